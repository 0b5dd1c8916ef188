"""Public tracking, `GET /api/v1/track/{token}/`: status, ETA and truck position of one order.

No authentication: the unguessable token is the secret. No customer names, prices or contact data."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.routers import SimpleRouter

from fleet.selectors import TRUCK_VISIBLE_STATUSES, order_for_tracking
from orders.api.serializers import WindowOutputSerializer
from orders.api.views import NOT_FOUND, StrictQueryMixin
from orders.models import Order, OrderStatus
from orders.payloads import window_of


class TruckPositionSerializer(serializers.Serializer):
    lat = serializers.FloatField(read_only=True)
    lon = serializers.FloatField(read_only=True)
    at = serializers.DateTimeField(read_only=True)


class TrackingJobSerializer(serializers.Serializer):
    ticket = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    eta = serializers.DateTimeField(read_only=True, allow_null=True)
    truck_position = serializers.SerializerMethodField()

    @extend_schema_field(TruckPositionSerializer(allow_null=True))
    def get_truck_position(self, job):
        truck = job.tour.truck if job.tour is not None else None
        if job.status not in TRUCK_VISIBLE_STATUSES or truck is None or truck.last_position_at is None:
            return None
        return TruckPositionSerializer(
            {"lat": truck.last_lat, "lon": truck.last_lon, "at": truck.last_position_at}
        ).data


class TrackingOutputSerializer(serializers.Serializer):
    """What anyone with the link sees: no customer names, prices or contact data."""

    number = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=OrderStatus.choices, read_only=True)
    requested_date = serializers.DateField(read_only=True)
    window = serializers.SerializerMethodField()
    jobs = TrackingJobSerializer(many=True, read_only=True)

    @extend_schema_field(WindowOutputSerializer(allow_null=True))
    def get_window(self, order: Order):
        return window_of(order)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Public tracking of one order (no authentication; the token is the secret)",
        responses={200: TrackingOutputSerializer, 404: NOT_FOUND},
    )
)
class TrackingViewSet(StrictQueryMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Status, ETA and truck position of one order for anyone holding its tracking token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = TrackingOutputSerializer
    filter_backends: list = []
    pagination_class = None
    lookup_field = "tracking_token"
    lookup_url_kwarg = "token"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return order_for_tracking()

    def get_object(self) -> Order:
        return get_object_or_404(self.get_queryset(), tracking_token=self.kwargs["token"])


router = SimpleRouter()
router.register("track", TrackingViewSet, basename="tracking")
urlpatterns = router.urls
