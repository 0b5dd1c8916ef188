"""Platform tables: leases for singleton jobs and stored idempotent responses."""

from __future__ import annotations

from django.db import models


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
