"""Inbound messages and their applied versions, and sync runs. The ERP systems, external references
and the outbox they deliver are platform tables in `oms.models`."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from oms.models import ErpSystem


class EntityVersion(models.Model):
    """Last applied inbound version per (system, entity type, key): older messages are stale."""

    system = models.ForeignKey(ErpSystem, on_delete=models.CASCADE, related_name="+")
    entity_type = models.CharField(max_length=30)
    entity_key = models.CharField(max_length=200)
    version = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "entity_type", "entity_key"], name="entityversion_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.entity_type}:{self.entity_key}@{self.version}"


class InboxMessage(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        STALE = "stale", _("Stale")
        FAILED = "failed", _("Failed")

    system = models.ForeignKey(ErpSystem, on_delete=models.CASCADE, related_name="inbox")
    message_id = models.CharField(max_length=200)
    type = models.CharField(max_length=100, blank=True, default="")
    entity_type = models.CharField(max_length=30, blank=True, default="")
    entity_key = models.CharField(max_length=200, blank=True, default="")
    entity_version = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(null=True, blank=True)
    raw = models.TextField(blank=True, default="", help_text="Truncated copy of an unusable message.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    source = models.CharField(max_length=10, default="pull")
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    received_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["system", "message_id"], name="inbox_system_message_unique")
        ]
        indexes = [
            models.Index(fields=["status", "received_at"], name="inbox_status_received_idx"),
            models.Index(fields=["system", "entity_type", "entity_key"], name="inbox_entity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.message_id} {self.type} {self.status}"


class SyncRun(models.Model):
    class Direction(models.TextChoices):
        PULL = "pull", _("Pull")
        PUSH = "push", _("Push")
        WEBHOOK = "webhook", _("Webhook")
        APPLY = "apply", _("Apply")
        RECONCILE = "reconcile", _("Reconcile")

    system = models.ForeignKey(ErpSystem, on_delete=models.CASCADE, related_name="runs")
    direction = models.CharField(max_length=10, choices=Direction.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=20, default="running")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at"]
        permissions = [("replay_outbox", "Can replay dead outbox messages")]
        indexes = [models.Index(fields=["system", "-started_at"], name="syncrun_system_started_idx")]

    def __str__(self) -> str:
        return f"{self.system_id} {self.direction} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"


class OrderDrift(models.Model):
    """One difference between the OMS's view of an order and what one ERP believes (the comparison in
    `erp_sync.reconcile`, docs/erp-integration.md "Order state"). At most one open row per (system,
    order, field, position); a later comparison that sees no difference closes it as `converged`, a
    rep's resend closes it as `resent`."""

    class Field(models.TextChoices):
        UNKNOWN = "unknown", _("Order unknown to the ERP")
        STATUS = "status", _("Status")
        LINE = "line", _("Line missing on one side")
        QUANTITY = "quantity", _("Ordered quantity")
        DELIVERED = "delivered", _("Delivered quantity")
        RETURNED = "returned", _("Returned quantity")
        CANCELLED = "cancelled", _("Cancelled quantity")

    class Resolution(models.TextChoices):
        CONVERGED = "converged", _("Converged")
        RESENT = "resent", _("Resent")

    system = models.ForeignKey(ErpSystem, on_delete=models.CASCADE, related_name="drifts")
    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=12, choices=Field.choices)
    # The order line's position for line fields; null for `unknown` and `status`.
    position = models.PositiveIntegerField(null=True, blank=True)
    oms_value = models.CharField(max_length=100, blank=True, default="")
    erp_value = models.CharField(max_length=100, blank=True, default="")
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, blank=True, default="")
    # Who resolved it: the user's name for a resend, `system` for a comparison that saw it converge.
    resolved_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        verbose_name = _("order drift")
        verbose_name_plural = _("order drifts")
        constraints = [
            models.UniqueConstraint(
                fields=["system", "order", "field", "position"],
                condition=models.Q(resolved_at__isnull=True, position__isnull=False),
                name="orderdrift_open_line_unique",
            ),
            models.UniqueConstraint(
                fields=["system", "order", "field"],
                condition=models.Q(resolved_at__isnull=True, position__isnull=True),
                name="orderdrift_open_order_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(resolved_at__isnull=True, resolution="")
                | models.Q(resolved_at__isnull=False, resolution__in=["converged", "resent"]),
                name="orderdrift_resolution_with_time",
            ),
        ]
        indexes = [
            models.Index(
                fields=["system", "detected_at"],
                name="orderdrift_open_idx",
                condition=models.Q(resolved_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        where = f"/{self.position}" if self.position is not None else ""
        return f"{self.system_id}:{self.order_id}{where} {self.field} {self.oms_value!r}≠{self.erp_value!r}"


class OutboxSample(models.Model):
    """The outbox backlog at the start of a sampling slot (`erp_sync.tasks.outbox_sample`), for the
    console dashboard's last 24 hours. It cannot be recomputed from the messages: the outbox keeps no
    time for a message that died or was replayed, only when it was created and sent."""

    at = models.DateTimeField(unique=True)
    # Messages waiting to be delivered (pending, or failed and retrying).
    waiting = models.PositiveIntegerField()
    oldest_created_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("outbox sample")
        verbose_name_plural = _("outbox samples")
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.waiting}"
