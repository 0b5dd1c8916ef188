from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.static import serve

from oms import health, views

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("oms.api_urls")),
    # The surfaces are mounted by name: the platform never imports them.
    path("portal/", include("portal.urls")),
    path("track/", include("portal.track_urls")),
    path("", views.home, name="home"),
]

# Only a development machine serves uploaded files (EPODs, exports) from Django: production never does.
if settings.DEBUG and not settings.PRODUCTION:
    urlpatterns.append(path("media/<path:path>", serve, {"document_root": settings.MEDIA_ROOT}))

handler400 = "oms.views.bad_request"
handler404 = "oms.views.not_found"
handler500 = "oms.views.server_error"
