"""Sales points, orders, lines, the unified timeline, returns, call-offs and API clients."""

from __future__ import annotations

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from catalog.models import MONEY, QTY, ZERO_QTY
from oms.exceptions import InvalidTransition


class Channel(models.TextChoices):
    STOREFRONT = "storefront", _("Store POS")
    WEB = "web", _("Web portal")
    PHONE = "phone", _("Phone")
    KIOSK = "kiosk", _("Kiosk")
    ERP = "erp", _("ERP")


class SalesPoint(models.Model):
    """A store POS or kiosk. API device keys belong to one; it fixes the order's channel and plant."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    channel = models.CharField(
        _("channel"),
        max_length=12,
        choices=[
            (Channel.KIOSK.value, Channel.KIOSK.label),
            (Channel.STOREFRONT.value, Channel.STOREFRONT.label),
        ],
    )
    plant = models.ForeignKey("catalog.Plant", on_delete=models.PROTECT, related_name="sales_points")
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("sales point")
        verbose_name_plural = _("sales points")

    def __str__(self) -> str:
        return f"{self.code} ({self.get_channel_display()})"


class OrderStatus(models.TextChoices):
    PLACED = "placed", _("Placed")
    ON_HOLD = "on_hold", _("On hold")
    CONFIRMED = "confirmed", _("Confirmed")
    SCHEDULED = "scheduled", _("Scheduled")
    IN_DELIVERY = "in_delivery", _("In delivery")
    PARTIALLY_DELIVERED = "partially_delivered", _("Partially delivered")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    CANCELLATION_REQUESTED = "cancellation_requested", _("Cancellation requested")
    CANCELLED = "cancelled", _("Cancelled")
    REJECTED = "rejected", _("Rejected")


class Fulfilment(models.TextChoices):
    DELIVERY = "delivery", _("Delivery")
    PICKUP = "pickup", _("Pickup")


class ErpSyncState(models.TextChoices):
    NONE = "none", _("Not synced")
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    FAILED = "failed", _("Failed")


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)


class Order(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(_("number"), max_length=30, unique=True)
    tracking_token = models.CharField(max_length=64, unique=True, default=new_tracking_token, editable=False)
    # No index of their own: `order_customer_recent_idx` / `order_salespoint_recent_idx` lead with them.
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    site = models.ForeignKey(
        "customers.Site", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    address = models.JSONField(_("delivery address"), default=dict, blank=True)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices)
    sales_point = models.ForeignKey(
        SalesPoint, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", db_index=False
    )
    external_ref = models.CharField(_("external reference"), max_length=100, blank=True, default="")
    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices, default=Fulfilment.DELIVERY)
    status = models.CharField(
        _("status"), max_length=30, choices=OrderStatus.choices, default=OrderStatus.PLACED
    )
    # The status before a hold or a cancellation request, to return to when it is lifted or rejected.
    status_before = models.CharField(max_length=30, choices=OrderStatus.choices, blank=True, default="")
    on_call = models.BooleanField(_("on call"), default=False)
    # Pour pacing: the customer or a rep holds the remaining loads, or spaces them out.
    loads_paused = models.BooleanField(_("loads paused"), default=False)
    load_spacing_minutes = models.PositiveSmallIntegerField(_("minutes between loads"), null=True, blank=True)
    requested_date = models.DateField(_("requested date"))
    window_from = models.TimeField(null=True, blank=True)
    window_to = models.TimeField(null=True, blank=True)
    plant = models.ForeignKey("catalog.Plant", on_delete=models.PROTECT, related_name="orders")
    currency = models.CharField(max_length=3, default="EUR")
    net_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    tax_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    gross_total = models.DecimalField(**MONEY, default=Decimal("0.00"))
    notes = models.TextField(max_length=2000, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    erp_system = models.ForeignKey(
        "oms.ErpSystem", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    erp_order_number = models.CharField(_("ERP order number"), max_length=100, blank=True, default="")
    erp_sync_state = models.CharField(max_length=15, choices=ErpSyncState.choices, default=ErpSyncState.NONE)
    # Set by the fleet when the first load of the order starts batching: cancelling needs approval after it.
    loading_started_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [
            ("place_phone_order", "Can place orders on behalf of a customer"),
            ("cancel_order", "Can cancel orders"),
            ("approve_cancellation", "Can approve or reject cancellation requests"),
            ("correct_order", "Can correct order lines"),
            ("manage_returns", "Can approve and receive returns"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_ref"],
                condition=~models.Q(external_ref=""),
                name="order_channel_external_ref_unique",
            ),
            models.CheckConstraint(condition=models.Q(net_total__gte=0), name="order_net_non_negative"),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at", "-id"], name="order_customer_recent_idx"),
            models.Index(fields=["sales_point", "-created_at", "-id"], name="order_salespoint_recent_idx"),
            models.Index(fields=["status", "requested_date"], name="order_status_date_idx"),
            # The console dashboard's loads of a day, per plant (index-only, with the delivery window).
            models.Index(
                fields=["requested_date", "plant", "id", "window_from", "window_to"],
                name="order_date_plant_idx",
            ),
            models.Index(fields=["erp_order_number"], name="order_erp_number_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    sku = models.CharField(max_length=40)
    description = models.CharField(max_length=200)
    unit = models.CharField(max_length=10)
    unit_price = models.DecimalField(**MONEY)
    vat_rate = models.DecimalField(max_digits=5, decimal_places=2)
    stocked = models.BooleanField(default=True)
    quantity = models.DecimalField(**QTY)
    allocated = models.DecimalField(**QTY, default=ZERO_QTY)
    released = models.DecimalField(
        **QTY, default=ZERO_QTY, help_text="On-call orders: quantity the customer called off so far."
    )
    loaded = models.DecimalField(**QTY, default=ZERO_QTY)
    delivered = models.DecimalField(**QTY, default=ZERO_QTY)
    returned = models.DecimalField(**QTY, default=ZERO_QTY)
    cancelled = models.DecimalField(**QTY, default=ZERO_QTY)
    net = models.DecimalField(**MONEY)
    tax = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["order_id", "position"]
        # The console dashboard's m³ delivered: which lines are sold in m³, from the index alone.
        indexes = [models.Index(fields=["id"], condition=models.Q(unit="m3"), name="orderline_m3_idx")]
        constraints = [
            models.UniqueConstraint(fields=["order", "position"], name="orderline_position_unique"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=models.Q(allocated__gte=0), name="orderline_allocated_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}/{self.position} {self.sku} × {self.quantity}"


class ActorKind(models.TextChoices):
    USER = "user", _("Staff")
    CUSTOMER = "customer", _("Customer")
    DRIVER = "driver", _("Driver")
    DEVICE = "device", _("Device")
    ERP = "erp", _("ERP")
    SYSTEM = "system", _("System")


class OrderEvent(models.Model):
    """One entry of the unified order timeline. Event types are dotted strings reused by the outbox."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField()
    type = models.CharField(max_length=60)
    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices, default=ActorKind.SYSTEM)
    actor = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=12, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    visible_to_customer = models.BooleanField(default=True)
    outbox_message = models.ForeignKey(
        "oms.OutboxMessage", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["order", "at"], name="orderevent_order_at_idx")]

    def __str__(self) -> str:
        return f"{self.type} @ {self.at:%Y-%m-%d %H:%M}"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    PICKUP_SCHEDULED = "pickup_scheduled", _("Pickup scheduled")
    RECEIVED = "received", _("Received")
    CLOSED = "closed", _("Closed")


class ReturnRequest(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=30, unique=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    status = models.CharField(max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED)
    reason = models.CharField(max_length=200)
    decision_note = models.CharField(max_length=200, blank=True, default="")
    requested_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("return request")
        verbose_name_plural = _("return requests")

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    return_request = models.ForeignKey(ReturnRequest, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.DecimalField(**QTY)
    received = models.DecimalField(**QTY, default=ZERO_QTY)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="returnline_qty_positive")
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class CallOff(models.Model):
    """A customer's release of the next load(s) of an on-call order: work for dispatch."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        SCHEDULED = "scheduled", _("Scheduled")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="call_offs")
    requested_at = models.DateTimeField()
    wanted_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    lines = models.JSONField(default=list, help_text="[{position, quantity}] released by this call-off")
    requested_by = models.CharField(max_length=200, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["requested_at", "pk"]

    def __str__(self) -> str:
        return f"call-off {self.order_id} @ {self.requested_at:%Y-%m-%d %H:%M}"


KEY_REVOKED = gettext_noop("A revoked API key stays revoked: issue a new one.")


class ApiClient(models.Model):
    """A device (kiosk / store POS, bound to a sales point) or a driver app, with a hashed key.

    A driver key's driver is `fleet.DriverKey` (fleet sits above orders, so the link lives there)."""

    class Kind(models.TextChoices):
        DEVICE = "device", _("Device")
        DRIVER = "driver", _("Driver")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=200, blank=True, default="")
    sales_point = models.ForeignKey(
        SalesPoint, null=True, blank=True, on_delete=models.CASCADE, related_name="api_clients"
    )
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API client")
        verbose_name_plural = _("API clients")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind="device", sales_point__isnull=False)
                    | models.Q(kind="driver", sales_point__isnull=True)
                ),
                name="apiclient_owner_matches_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key_prefix}…"

    def save(self, *args, **kwargs):
        """Revocation is final: a revoked key is never saved as valid again (whatever form or code
        holds a stale copy of it)."""
        if self.pk is not None and self.revoked_at is None:
            revoked_at = ApiClient.objects.filter(pk=self.pk).values_list("revoked_at", flat=True).first()
            if revoked_at is not None:
                raise InvalidTransition(KEY_REVOKED)
        super().save(*args, **kwargs)
