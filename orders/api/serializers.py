"""Request and response shapes of the kiosk / storefront API (docs/rest-api.md).

Input serializers check the shape of a request (types, limits, 1–100 lines, ≤ 3 decimals, coordinate
ranges, text lengths) and nothing else: business rules live in the services. Output serializers are
read-only: prices, totals and statuses are never writable by a client.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product, Unit
from customers.models import Customer
from orders.models import QTY, Fulfilment, Order, OrderStatus
from orders.payloads import order_document, tracking_url, window_of

NAME_MAX = 200
NOTES_MAX = 2000
EXTERNAL_REF_MAX = 100
MAX_LINES = 100
MIN_QUANTITY = Decimal("0.001")
MAX_QUANTITY = Decimal("999999.999")

ONE_IDENTIFIER = "Give exactly one of phone, email or number."
CUSTOMER_FORM = "Give the customer's id, or number, or name (with email and/or phone)."
SITE_FORM = "Give the id of a saved site, or name and address of a new one."
SITE_REQUIRED = "A delivery needs a site."
WINDOW_ORDER = "The window must end after it starts."
BOTH_COORDINATES = "Give both lat and lon, or neither."
NOT_FINITE = "A finite number is required."


def mask_name(name: str) -> str:
    """Keep the first letter of each word and mask the rest: "Ivan Petrov" → "I*** P***"."""
    return " ".join(f"{word[0]}***" for word in name.split())


def device_order_document(order) -> dict[str, Any]:
    """`order_document` (the shape every channel and the ERP share) as a device key sees it: with
    the customer's name masked, like `OrderCustomerOutputSerializer`."""
    document = order_document(order)
    document["customer"] = {**document["customer"], "name": mask_name(document["customer"]["name"])}
    return document


class FiniteFloatField(serializers.FloatField):
    """A float that refuses NaN and infinities (given as strings), which no coordinate can be."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError(NOT_FINITE)
        return value


# --- problem details (schema only) ----------------------------------------------------------------


class ProblemSerializer(serializers.Serializer):
    """`application/problem+json` (RFC 9457); some problems add top-level members (`id`, `number`)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.JSONField(required=False, help_text="Field → messages (or per-line details).")


# --- catalog ----------------------------------------------------------------------------------------


class ProductOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Product
        fields = ["sku", "name", "unit", "unit_price", "vat_rate", "stocked", "active"]
        read_only_fields = fields


class PlantAvailabilitySerializer(serializers.Serializer):
    plant = serializers.CharField(read_only=True)
    available = serializers.DecimalField(
        **QTY, read_only=True, allow_null=True, help_text="null for made-to-order products."
    )


class AvailabilityOutputSerializer(serializers.Serializer):
    sku = serializers.CharField(read_only=True)
    plants = PlantAvailabilitySerializer(many=True, read_only=True)


# --- customers --------------------------------------------------------------------------------------


class CustomerLookupInputSerializer(serializers.Serializer):
    phone = serializers.CharField(required=False, max_length=30)
    email = serializers.EmailField(required=False, max_length=254)
    number = serializers.CharField(required=False, max_length=20, help_text="OMS customer number, C-…")

    def validate(self, attrs):
        given = {name: value for name, value in attrs.items() if value}
        if len(given) != 1:
            raise serializers.ValidationError({"non_field_errors": [ONE_IDENTIFIER]})
        return given


class CustomerLookupOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    display_name = serializers.SerializerMethodField()

    class Meta:
        model = Customer
        fields = ["id", "number", "display_name"]
        read_only_fields = fields

    def get_display_name(self, customer: Customer) -> str:
        return mask_name(customer.name)


class CustomerCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    kind = serializers.ChoiceField(choices=Customer.Kind.choices)
    vat_id = serializers.CharField(required=False, allow_blank=True, max_length=30)


class CustomerOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Customer
        fields = ["id", "number", "name", "kind"]
        read_only_fields = fields


# --- orders: input ----------------------------------------------------------------------------------


class OrderCustomerInputSerializer(serializers.Serializer):
    """`{"id"}`, `{"number"}`, or an inline customer `{"name", "email"?, "phone"?}` (matched, else created)."""

    id = serializers.UUIDField(required=False)
    number = serializers.CharField(required=False, max_length=20)
    name = serializers.CharField(required=False, max_length=NAME_MAX)
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    kind = serializers.ChoiceField(choices=Customer.Kind.choices, required=False)
    vat_id = serializers.CharField(required=False, allow_blank=True, max_length=30)

    def validate(self, attrs):
        forms = [bool(attrs.get("id")), bool(attrs.get("number")), bool(attrs.get("name"))]
        if sum(forms) != 1:
            raise serializers.ValidationError({"non_field_errors": [CUSTOMER_FORM]})
        return attrs


class SiteInputSerializer(serializers.Serializer):
    id = serializers.UUIDField(required=False)
    name = serializers.CharField(required=False, max_length=NAME_MAX)
    address = serializers.CharField(required=False, max_length=NAME_MAX)
    address2 = serializers.CharField(required=False, allow_blank=True, max_length=NAME_MAX)
    city = serializers.CharField(required=False, allow_blank=True, max_length=100)
    postcode = serializers.CharField(required=False, allow_blank=True, max_length=20)
    country = serializers.RegexField(r"^[A-Za-z]{2}$", required=False, help_text="ISO 3166 alpha-2.")
    lat = FiniteFloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    lon = FiniteFloatField(required=False, allow_null=True, min_value=-180, max_value=180)
    contact_name = serializers.CharField(required=False, allow_blank=True, max_length=NAME_MAX)
    contact_phone = serializers.CharField(required=False, allow_blank=True, max_length=30)
    access_notes = serializers.CharField(required=False, allow_blank=True, max_length=NOTES_MAX)

    def validate(self, attrs):
        if attrs.get("id"):
            return {"id": attrs["id"]}
        if not attrs.get("name") or not attrs.get("address"):
            raise serializers.ValidationError({"non_field_errors": [SITE_FORM]})
        if (attrs.get("lat") is None) != (attrs.get("lon") is None):
            raise serializers.ValidationError({"lat": [BOTH_COORDINATES]})
        return attrs


class LineInputSerializer(serializers.Serializer):
    sku = serializers.CharField(max_length=40)
    quantity = serializers.DecimalField(
        **QTY, min_value=MIN_QUANTITY, max_value=MAX_QUANTITY, help_text="> 0, at most 3 decimals."
    )


class WindowSerializer(serializers.Serializer):
    # Python's field name cannot be `from`; the JSON member is.
    from_ = serializers.TimeField(format="%H:%M", required=False, allow_null=True)
    to = serializers.TimeField(format="%H:%M", required=False, allow_null=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and end <= start:
            raise serializers.ValidationError({"to": [WINDOW_ORDER]})
        return attrs


class OrderCreateInputSerializer(serializers.Serializer):
    customer = OrderCustomerInputSerializer()
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, default=Fulfilment.DELIVERY)
    site = SiteInputSerializer(required=False, allow_null=True)
    lines = serializers.ListField(child=LineInputSerializer(), min_length=1, max_length=MAX_LINES)
    requested_date = serializers.DateField(
        required=False, allow_null=True, help_text="Plant-local date, today or later; defaults to today."
    )
    window = WindowSerializer(required=False, allow_null=True)
    on_call = serializers.BooleanField(default=False)
    external_ref = serializers.CharField(
        required=False, allow_blank=True, max_length=EXTERNAL_REF_MAX, default=""
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=NOTES_MAX, default="")

    def validate(self, attrs):
        if attrs["fulfilment"] == Fulfilment.DELIVERY and not attrs.get("site"):
            raise serializers.ValidationError({"site": [SITE_REQUIRED]})
        return attrs


class CancelInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=NAME_MAX)


# --- orders: output ---------------------------------------------------------------------------------


class CallOffLineInputSerializer(serializers.Serializer):
    position = serializers.IntegerField(min_value=1)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3, min_value=Decimal("0.001"))


class CallOffInputSerializer(serializers.Serializer):
    lines = CallOffLineInputSerializer(
        many=True, required=False, help_text="Per line position; without lines everything left is called off."
    )
    wanted_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class PauseInputSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class ResumeInputSerializer(serializers.Serializer):
    spacing_minutes = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=600, help_text="Minutes between loads."
    )


class WindowOutputSerializer(serializers.Serializer):
    from_ = serializers.CharField(allow_null=True, read_only=True)
    to = serializers.CharField(allow_null=True, read_only=True)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


class MaskedNameField(serializers.CharField):
    """A person's or company's name as a device may show it: masked like the customer lookup's."""

    def to_representation(self, value) -> str:
        return mask_name(str(value))


class OrderCustomerOutputSerializer(serializers.Serializer):
    """The order's customer for a kiosk or POS key: id and number, and the name masked (a device is
    a shared screen, and its key must not turn the order list into a customer directory)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    number = serializers.CharField(read_only=True)
    name = MaskedNameField(read_only=True, help_text='Masked: "Ivan Petrov" → "I*** P***".')


class OrderLineOutputSerializer(serializers.Serializer):
    position = serializers.IntegerField(read_only=True)
    sku = serializers.CharField(read_only=True)
    name = serializers.CharField(source="description", read_only=True)
    quantity = serializers.DecimalField(**QTY, read_only=True)
    unit = serializers.ChoiceField(choices=Unit.choices, read_only=True)
    unit_price = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    vat_rate = serializers.DecimalField(max_digits=5, decimal_places=2, read_only=True)
    net = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    delivered = serializers.DecimalField(**QTY, read_only=True)
    returned = serializers.DecimalField(**QTY, read_only=True)


class TotalsOutputSerializer(serializers.Serializer):
    net = serializers.DecimalField(source="net_total", max_digits=14, decimal_places=2, read_only=True)
    tax = serializers.DecimalField(source="tax_total", max_digits=14, decimal_places=2, read_only=True)
    gross = serializers.DecimalField(source="gross_total", max_digits=14, decimal_places=2, read_only=True)
    currency = serializers.CharField(read_only=True)


class OrderOutputSerializer(serializers.Serializer):
    """The order as every channel sees it (the `order.created` ERP payload has the same shape)."""

    number = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=OrderStatus.choices, read_only=True)
    channel = serializers.CharField(read_only=True)
    sales_point = serializers.CharField(source="sales_point.code", read_only=True, allow_null=True)
    customer = OrderCustomerOutputSerializer(read_only=True)
    fulfilment = serializers.ChoiceField(choices=Fulfilment.choices, read_only=True)
    plant = serializers.CharField(source="plant.code", read_only=True)
    requested_date = serializers.DateField(read_only=True)
    window = serializers.SerializerMethodField()
    on_call = serializers.BooleanField(read_only=True)
    lines = OrderLineOutputSerializer(many=True, read_only=True)
    totals = TotalsOutputSerializer(source="*", read_only=True)
    external_ref = serializers.SerializerMethodField()
    erp_order = serializers.SerializerMethodField()
    tracking_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(WindowOutputSerializer(allow_null=True))
    def get_window(self, order: Order):
        return window_of(order)

    def get_external_ref(self, order: Order) -> str | None:
        return order.external_ref or None

    def get_erp_order(self, order: Order) -> str | None:
        return order.erp_order_number or None

    @extend_schema_field(OpenApiTypes.URI)
    def get_tracking_url(self, order: Order) -> str:
        return tracking_url(order)


class OrderEventOutputSerializer(serializers.Serializer):
    at = serializers.DateTimeField(read_only=True)
    type = serializers.CharField(read_only=True)
    summary = serializers.SerializerMethodField()

    def get_summary(self, event) -> str:
        return event_summary(event.type, event.data)


class OrderJobOutputSerializer(serializers.Serializer):
    ticket = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    truck = serializers.SerializerMethodField()
    eta = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_truck(self, job) -> str | None:
        tour = job.tour
        return tour.truck.code if tour is not None else None


class OrderDetailOutputSerializer(OrderOutputSerializer):
    events = OrderEventOutputSerializer(many=True, read_only=True)
    jobs = serializers.SerializerMethodField()

    @extend_schema_field(OrderJobOutputSerializer(many=True))
    def get_jobs(self, order: Order) -> list:
        jobs = sorted(order.jobs.all(), key=lambda job: (job.planned_at is None, job.planned_at, job.pk))
        return OrderJobOutputSerializer(jobs, many=True).data


EVENT_SUMMARIES = {
    "order.placed": "Order placed",
    "order.confirmed": "Order confirmed",
    "order.held": "Order on hold",
    "order.released": "Hold released",
    "order.status_changed": "Status changed",
    "order.cancel_requested": "Cancellation requested",
    "order.cancellation_requested": "Cancellation requested",
    "order.cancelled": "Order cancelled",
    "order.cancellation_rejected": "Cancellation rejected",
    "order.rejected": "Order rejected",
    "order.corrected": "Order corrected",
    "erp.acknowledged": "Confirmed by the ERP",
    "job.loaded": "Load on the truck",
    "job.en_route": "Truck on the way",
    "job.arrived": "Truck arrived",
    "job.delivered": "Load delivered",
    "epod.received": "Proof of delivery received",
    "message.posted": "Message",
}


def event_summary(type_: str, data: dict | None) -> str:
    data = data or {}
    summary = EVENT_SUMMARIES.get(type_, type_.replace(".", " ").replace("_", " ").capitalize())
    if data.get("to") and type_ == "order.status_changed":
        return f"{summary}: {data['to']}"
    if data.get("reason") and isinstance(data["reason"], str):
        return f"{summary}: {data['reason']}"
    return summary
