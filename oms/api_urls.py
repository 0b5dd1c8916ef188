"""Everything under /api/v1/: one place that mounts each app's API routes and the schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its init script as a file: the CSP allows no inline scripts. It has no
    # OPTIONS description (DRF's would be rendered through the page's HTML template: a 500).
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", metadata_class=None),
        name="api-docs",
    ),
    path("", include("orders.api.urls")),
    path("", include("fleet.api.tracking")),
    path("driver/", include("fleet.api.urls")),
    path("erp/", include("erp_sync.api.urls")),
]
