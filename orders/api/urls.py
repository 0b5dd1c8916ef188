"""Kiosk / storefront routes, through one router (mounted under /api/v1/)."""

from rest_framework.routers import SimpleRouter

from orders.api import views

router = SimpleRouter()
router.register("products", views.ProductViewSet, basename="product")
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("orders", views.OrderViewSet, basename="order")

urlpatterns = router.urls
