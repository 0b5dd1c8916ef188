"""Kiosk / storefront endpoints and public tracking (docs/rest-api.md). Views parse, call, answer."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.response import Response

from customers.services import CustomerData, SiteData, customer_create, customer_match
from oms.exceptions import NotFound, ValidationError
from oms.lib.actors import Actor
from oms.lib.idempotency import IDEMPOTENCY_HEADER, IdempotentViewMixin
from orders import selectors
from orders.api import serializers as s
from orders.api.auth import IsDevice, TokenAuthentication
from orders.api.schema import TokenAuthenticationScheme  # noqa: F401 - registers the scheme
from orders.api.throttles import CustomerThrottle, OrderCreateThrottle
from orders.filters import OrderFilter, ProductFilter
from orders.models import ApiClient, Order

CUSTOMER_NOT_FOUND = "No customer matches."


def _problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(s.ProblemSerializer, description=description)


INVALID = _problem("Invalid request (`invalid`, `idempotency_key_missing`): `errors` maps field → messages.")
NOT_FOUND = _problem("Unknown, or not visible to the caller (`not_found`).")
REUSED = _problem("The Idempotency-Key was used for a different request (`idempotency_key_reused`).")
THROTTLED = _problem("Rate limit reached (`throttled`); see Retry-After.")


def replayed_header(*codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Idempotent-Replayed",
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        response=list(codes),
        enum=["true"],
        description="Present on a replay of the stored first response.",
    )


def retry_after_header(*codes: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Retry-After", OpenApiTypes.INT, location=OpenApiParameter.HEADER, response=list(codes)
    )


def idempotency_parameter(*, required: bool) -> OpenApiParameter:
    return OpenApiParameter(
        IDEMPOTENCY_HEADER,
        OpenApiTypes.STR,
        location=OpenApiParameter.HEADER,
        required=required,
        pattern=r"^[\x21-\x7e]{1,255}$",
        description=(
            "1-255 visible ASCII characters. The same key and request replays the stored first response."
        ),
    )


PAGE_SIZE_INVALID = "page_size must be a whole number from 1 to 200."


class StrictPageSizeMixin:
    """A malformed `page_size` is a 400, not silently the default (clients would page wrongly)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        if len(values) > 1 or not values[0].isdigit() or not 1 <= int(values[0]) <= self.max_page_size:
            raise ValidationError(PAGE_SIZE_INVALID, errors={"page_size": [PAGE_SIZE_INVALID]})
        return int(values[0])

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": self.max_page_size}
        return parameters


class ProductPagination(StrictPageSizeMixin, PageNumberPagination):
    pass


class OrderPagination(StrictPageSizeMixin, CursorPagination):
    ordering = ("-created_at", "-id")


UNKNOWN_PARAMETER = "Unknown query parameter."
REPEATED_PARAMETER = "Give this parameter once."
BLANK_PARAMETER = "This parameter may not be blank."


class StrictQueryMixin:
    """Query strings are validated like bodies: unknown, repeated or blank typed parameters → 400.

    Silently ignoring them (Django's default) makes a typo look like an empty filter.
    """

    free_text_parameters = frozenset({"search", "external_ref", "cursor"})

    def allowed_query_parameters(self) -> set[str]:
        allowed: set[str] = set()
        if self.detail is False:
            filterset = getattr(self, "filterset_class", None)
            if filterset is not None and self.filter_backends:
                allowed |= set(filterset.base_filters)
            if self.paginator is not None:
                allowed |= {"page", "page_size", "cursor"} & {
                    getattr(self.paginator, "page_query_param", ""),
                    getattr(self.paginator, "page_size_query_param", ""),
                    getattr(self.paginator, "cursor_query_param", ""),
                }
        return allowed

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        allowed = self.allowed_query_parameters()
        errors: dict[str, list[str]] = {}
        for name in request.query_params:
            values = request.query_params.getlist(name)
            if name not in allowed:
                errors[name] = [UNKNOWN_PARAMETER]
            elif len(values) > 1:
                errors[name] = [REPEATED_PARAMETER]
            elif values[0] == "" and name not in self.free_text_parameters:
                errors[name] = [BLANK_PARAMETER]
        if errors:
            raise ValidationError(errors=errors)


class DeviceViewMixin(IdempotentViewMixin, StrictQueryMixin):
    """Kiosk / store POS keys only; every query is scoped to the caller's sales point."""

    authentication_classes = [TokenAuthentication]
    permission_classes = [IsDevice]

    @property
    def client(self) -> ApiClient:
        return self.request.auth

    @property
    def sales_point(self):
        return self.client.sales_point

    @property
    def actor(self) -> Actor:
        sales_point = self.sales_point
        return Actor(kind="device", name=sales_point.code, channel=sales_point.channel)


@extend_schema_view(
    list=extend_schema(summary="Active products", responses={200: s.ProductOutputSerializer(many=True)}),
    retrieve=extend_schema(
        summary="One active product", responses={200: s.ProductOutputSerializer, 404: NOT_FOUND}
    ),
)
class ProductViewSet(DeviceViewMixin, viewsets.ReadOnlyModelViewSet):
    """The catalog of active products: search by SKU or name, filter by unit."""

    serializer_class = s.ProductOutputSerializer
    filterset_class = ProductFilter
    pagination_class = ProductPagination
    lookup_field = "sku"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.product_list()

    @extend_schema(
        operation_id="products_availability",
        summary="Availability of a product per plant",
        filters=False,
        responses={200: s.AvailabilityOutputSerializer, 404: NOT_FOUND},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def availability(self, request, sku=None):
        product = self.get_object()
        data = {"sku": product.sku, "plants": selectors.product_availability(product=product)}
        return Response(s.AvailabilityOutputSerializer(data).data)


class CustomerViewSet(DeviceViewMixin, viewsets.GenericViewSet):
    """Customer registration and lookup; never answers with contact data."""

    serializer_class = s.CustomerOutputSerializer
    pagination_class = None
    filter_backends: list = []
    throttle_classes = [CustomerThrottle]

    @extend_schema(
        summary="Register a customer",
        request=s.CustomerCreateInputSerializer,
        parameters=[
            idempotency_parameter(required=False),
            replayed_header(201, 409),
            retry_after_header(429),
        ],
        responses={
            201: s.CustomerOutputSerializer,
            400: INVALID,
            409: _problem("A customer with this email or phone exists (`customer_exists`, top-level `id`)."),
            422: REUSED,
            429: THROTTLED,
        },
    )
    def create(self, request):
        self.check_idempotency_key(request, required=False)
        payload = s.CustomerCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = CustomerData(
            name=payload.validated_data["name"],
            email=payload.validated_data.get("email", ""),
            phone=payload.validated_data.get("phone", ""),
            kind=payload.validated_data["kind"],
            vat_id=payload.validated_data.get("vat_id", ""),
        )

        def operation():
            customer = customer_create(data=data, actor=self.actor)
            return status.HTTP_201_CREATED, s.CustomerOutputSerializer(customer).data, customer.number

        return self.respond_idempotent(request, operation)

    @extend_schema(
        operation_id="customers_lookup",
        summary="Find a customer by phone, email or customer number",
        request=s.CustomerLookupInputSerializer,
        parameters=[retry_after_header(429)],
        responses={200: s.CustomerLookupOutputSerializer, 400: INVALID, 404: NOT_FOUND, 429: THROTTLED},
    )
    @action(detail=False, methods=["post"])
    def lookup(self, request):
        payload = s.CustomerLookupInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        customer = customer_match(**payload.validated_data)
        if customer is None:
            raise NotFound(CUSTOMER_NOT_FOUND)
        return Response(s.CustomerLookupOutputSerializer(customer).data)


@extend_schema_view(
    list=extend_schema(summary="Orders of the caller's sales point"),
    retrieve=extend_schema(
        summary="One order of the caller's sales point",
        responses={200: s.OrderDetailOutputSerializer, 404: NOT_FOUND},
    ),
)
class OrderViewSet(
    DeviceViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Orders of the caller's sales point: place (idempotent, rate limited), list, read, cancel."""

    serializer_class = s.OrderOutputSerializer
    filterset_class = OrderFilter
    pagination_class = OrderPagination
    lookup_field = "number"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Order.objects.none()
        if self.action == "list":
            return selectors.order_list_for_sales_point(sales_point=self.sales_point)
        return selectors.order_detail_for_sales_point(sales_point=self.sales_point)

    def get_serializer_class(self):
        if self.action == "retrieve":
            return s.OrderDetailOutputSerializer
        return s.OrderOutputSerializer

    def get_throttles(self):
        if self.action == "create":
            return [OrderCreateThrottle()]
        return []

    @extend_schema(
        summary="Place an order",
        request=s.OrderCreateInputSerializer,
        parameters=[
            idempotency_parameter(required=True),
            replayed_header(201, 409),
            retry_after_header(409, 429),
        ],
        responses={
            201: s.OrderOutputSerializer,
            400: INVALID,
            404: _problem("Unknown customer id or number (`not_found`)."),
            409: OpenApiResponse(
                s.ProblemSerializer,
                description=(
                    "`insufficient_stock` (per-line availability in `errors.lines`), "
                    "`duplicate_external_ref` (top-level `number`), `idempotency_in_progress` (Retry-After)."
                ),
            ),
            422: REUSED,
            429: THROTTLED,
        },
    )
    def create(self, request):
        from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place

        self.check_idempotency_key(request, required=True)
        payload = s.OrderCreateInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        window = data.get("window") or {}
        sales_point = self.sales_point

        def operation():
            order = order_place(
                channel=sales_point.channel,
                customer=_customer_ref(CustomerRef, data["customer"]),
                lines=[LineInput(sku=line["sku"], quantity=line["quantity"]) for line in data["lines"]],
                actor=self.actor,
                fulfilment=data["fulfilment"],
                site=_site_ref(SiteRef, data.get("site")) if data["fulfilment"] == "delivery" else None,
                requested_date=data.get("requested_date"),
                window_from=window.get("from"),
                window_to=window.get("to"),
                on_call=data["on_call"],
                external_ref=data["external_ref"],
                notes=data["notes"],
                sales_point=sales_point,
                plant=sales_point.plant,
                savepoint=False,  # run_idempotent's transaction ends with any error raised here
            )
            # The order, customer, plant and sales point are in memory: only the lines are read back.
            return status.HTTP_201_CREATED, s.device_order_document(order), order.number

        return self.respond_idempotent(request, operation, required=True)

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order (or request its cancellation once loading started)",
        request=s.CancelInputSerializer,
        parameters=[idempotency_parameter(required=False), replayed_header(200, 409)],
        responses={
            200: s.OrderDetailOutputSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: _problem("Delivered or completed orders cannot be cancelled (`invalid_transition`)."),
            422: REUSED,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, number=None):
        from orders.services.lifecycle import order_cancel_request

        self.check_idempotency_key(request, required=False)
        order = self.get_object()
        payload = s.CancelInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)

        def operation():
            changed = order_cancel_request(
                order=order, reason=payload.validated_data["reason"], actor=self.actor
            )
            fresh = self.get_queryset().get(pk=changed.pk)
            return status.HTTP_200_OK, s.OrderDetailOutputSerializer(fresh).data, fresh.number

        return self.respond_idempotent(request, operation)

    def _order_change(self, request, payload, call):
        """A state change of the caller's order under the request's optional Idempotency-Key."""
        self.check_idempotency_key(request, required=False)
        order = self.get_object()
        payload.is_valid(raise_exception=True)

        def operation():
            changed = call(order, payload.validated_data)
            fresh = self.get_queryset().get(pk=changed.pk)
            return status.HTTP_200_OK, s.OrderDetailOutputSerializer(fresh).data, fresh.number

        return self.respond_idempotent(request, required=False, operation=operation)

    @extend_schema(
        operation_id="orders_call_off",
        summary="Call off the next load(s) of an on-call order (added in 0.2)",
        request=s.CallOffInputSerializer,
        parameters=[idempotency_parameter(required=False), replayed_header(200, 409)],
        responses={
            200: s.OrderDetailOutputSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: _problem("Not an on-call order, or not in a state to call off (`invalid_transition`)."),
            422: _problem(
                "More than is left to call off (`call_off_exceeds_remaining`, with `remaining` per line), "
                "or a reused Idempotency-Key."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="call-off", filter_backends=[])
    def call_off(self, request, number=None):
        from orders.services.lifecycle import order_call_off

        def call(order, data):
            lines = {item["position"]: item["quantity"] for item in data.get("lines") or []} or None
            order_call_off(
                order=order,
                actor=self.actor,
                lines=lines,
                wanted_at=data.get("wanted_at"),
                note=data.get("note", ""),
            )
            return order

        return self._order_change(request, s.CallOffInputSerializer(data=request.data), call)

    @extend_schema(
        operation_id="orders_pause",
        summary="Pause the loads of a delivery order not yet planned (added in 0.2)",
        request=s.PauseInputSerializer,
        parameters=[idempotency_parameter(required=False), replayed_header(200, 409)],
        responses={
            200: s.OrderDetailOutputSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: _problem("Already paused, or not a delivery order in progress (`invalid_transition`)."),
            422: REUSED,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def pause(self, request, number=None):
        from orders.services.lifecycle import order_loads_pause

        return self._order_change(
            request,
            s.PauseInputSerializer(data=request.data),
            lambda order, data: order_loads_pause(
                order=order, actor=self.actor, reason=data.get("reason", "")
            ),
        )

    @extend_schema(
        operation_id="orders_resume",
        summary="Resume paused loads, optionally spaced (added in 0.2)",
        request=s.ResumeInputSerializer,
        parameters=[idempotency_parameter(required=False), replayed_header(200, 409)],
        responses={
            200: s.OrderDetailOutputSerializer,
            400: INVALID,
            404: NOT_FOUND,
            409: _problem("The loads are not paused (`invalid_transition`)."),
            422: REUSED,
        },
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def resume(self, request, number=None):
        from orders.services.lifecycle import order_loads_resume

        return self._order_change(
            request,
            s.ResumeInputSerializer(data=request.data),
            lambda order, data: order_loads_resume(
                order=order, actor=self.actor, spacing_minutes=data.get("spacing_minutes")
            ),
        )


def _customer_ref(cls, data: dict):
    if data.get("id"):
        return cls(id=str(data["id"]))
    if data.get("number"):
        return cls(number=data["number"])
    return cls(
        data=CustomerData(
            name=data["name"],
            email=data.get("email", ""),
            phone=data.get("phone", ""),
            kind=data.get("kind") or "person",
            vat_id=data.get("vat_id", ""),
        )
    )


def _site_ref(cls, data: dict | None):
    if not data:
        return None
    if data.get("id"):
        return cls(id=str(data["id"]))
    return cls(data=SiteData.from_mapping(data))
