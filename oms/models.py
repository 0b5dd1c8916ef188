"""Platform tables: leases, stored idempotent responses, and the facilities every domain app may use —
the registry of ERP systems, external references and the transactional outbox (delivered by `erp_sync`)."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class Lease(models.Model):
    """A named, time-limited lock held by one process (e.g. the active Celery beat)."""

    name = models.CharField(max_length=100, primary_key=True)
    holder = models.CharField(max_length=200)
    expires_at = models.DateTimeField()
    acquired_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} held by {self.holder} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class JobSlot(models.Model):
    """One row per (periodic job, time slot) that ran: a second claim of the same slot fails."""

    job = models.CharField(max_length=100)
    slot = models.CharField(max_length=40)
    holder = models.CharField(max_length=200)
    claimed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["job", "slot"], name="oms_jobslot_unique")]
        indexes = [models.Index(fields=["claimed_at"], name="oms_jobslot_claimed_idx")]

    def __str__(self) -> str:
        return f"{self.job} @ {self.slot}"


class IdempotencyRecord(models.Model):
    """The first response to (scope, method, path, key), replayed for retries of the same request."""

    class State(models.TextChoices):
        IN_FLIGHT = "in_flight", "In flight"
        DONE = "done", "Done"

    scope = models.CharField(max_length=100, help_text="Who owns the key: an API client or a user.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IN_FLIGHT)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    # What the operation produced (e.g. the order number), for pages that redirect instead of replaying.
    result_ref = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField()
    locked_until = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "method", "path", "key"], name="oms_idem_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="oms_idem_created_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] {self.state}"


class Counter(models.Model):
    """Number sequences for databases without native sequences (SQLite). PostgreSQL uses SEQUENCEs."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


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
    # Fernet-encrypted with OMS_CREDENTIAL_KEYS (erp_sync.secrets); ERP_<CODE>_TOKEN/SECRET override.
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
