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
