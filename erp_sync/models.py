"""ERP connections, external references, the inbox, the outbox and sync runs (DESIGN §3, §5)."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class ErpSystem(models.Model):
    class Adapter(models.TextChoices):
        HTTP_JSON = "http_json", "HTTP JSON"
        FILE_DROP = "file_drop", _("File drop")
        SIMULATOR = "simulator", _("Simulator")

    class ConnectionState(models.TextChoices):
        OK = "ok", _("OK")
        PAUSED = "paused", _("Paused")

    code = models.CharField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=200, blank=True, default="")
    adapter = models.CharField(max_length=15, choices=Adapter.choices, default=Adapter.HTTP_JSON)
    base_url = models.CharField(max_length=500, blank=True, default="")
    # Fernet-encrypted with a key derived from DJANGO_SECRET_KEY; ERP_<CODE>_TOKEN/SECRET override.
    token_encrypted = models.TextField(blank=True, default="")
    secret_encrypted = models.TextField(blank=True, default="")
    enabled = models.BooleanField(default=True)
    is_default = models.BooleanField(_("default"), default=False)
    poll_seconds = models.PositiveIntegerField(default=15)
    pull_cursor = models.CharField(max_length=500, blank=True, default="")
    connection_state = models.CharField(
        max_length=10, choices=ConnectionState.choices, default=ConnectionState.OK
    )
    paused_reason = models.CharField(max_length=500, blank=True, default="")
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_count = models.PositiveIntegerField(default=0)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_push_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ERP system")
        verbose_name_plural = _("ERP systems")
        permissions = [("replay_outbox", "Can replay dead outbox messages")]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="erp_one_default"
            )
        ]

    def __str__(self) -> str:
        return self.code


class ExternalRef(models.Model):
    """(ERP system, entity type, external id) → local object: the single view across ERPs."""

    system = models.ForeignKey(ErpSystem, on_delete=models.CASCADE, related_name="external_refs")
    entity_type = models.CharField(max_length=30)
    external_id = models.CharField(max_length=200)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE)
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    last_version = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["system", "entity_type", "external_id"], name="externalref_unique"
            )
        ]
        indexes = [models.Index(fields=["content_type", "object_id"], name="externalref_target_idx")]

    def __str__(self) -> str:
        return f"{self.system_id}:{self.entity_type}:{self.external_id}"


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


class OutboxStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (retrying)")
    DEAD = "dead", _("Dead")


class OutboxMessage(models.Model):
    """A message to an ERP, written in the same transaction as the domain change that caused it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    system = models.ForeignKey(
        ErpSystem, null=True, blank=True, on_delete=models.PROTECT, related_name="outbox"
    )
    type = models.CharField(max_length=60)
    aggregate_type = models.CharField(max_length=20)
    aggregate_id = models.CharField(max_length=100)
    sequence = models.PositiveIntegerField()
    version = models.PositiveIntegerField(default=1)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_error = models.TextField(blank=True, default="")
    erp_ack = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id", "sequence"], name="outbox_aggregate_seq"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="outbox_due_idx",
                condition=models.Q(status__in=["pending", "failed"]),
            ),
            models.Index(fields=["status", "system"], name="outbox_status_system_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.aggregate_type}:{self.aggregate_id}#{self.sequence} {self.status}"


class OutboxAggregate(models.Model):
    """Per-aggregate sequence counter; its row lock orders concurrent enqueues of one aggregate."""

    aggregate_type = models.CharField(max_length=20)
    aggregate_id = models.CharField(max_length=100)
    last_sequence = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aggregate_type", "aggregate_id"], name="outbox_aggregate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.aggregate_type}:{self.aggregate_id}#{self.last_sequence}"


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
        indexes = [models.Index(fields=["system", "-started_at"], name="syncrun_system_started_idx")]

    def __str__(self) -> str:
        return f"{self.system_id} {self.direction} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"
