"""Reads for the sync monitor, the drift report, the readiness probe and the operations commands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, Min, Q
from django.utils import timezone

from erp_sync.models import InboxMessage, OrderDrift, OutboxSample, SyncRun
from oms.models import ErpSystem, OutboxMessage, OutboxStatus

UNSENT = (OutboxStatus.PENDING, OutboxStatus.FAILED)


def webhook_system(code: str) -> ErpSystem | None:
    """The enabled ERP system `code` a webhook call names, or None (answered like a bad signature)."""
    return ErpSystem.objects.filter(code=code, enabled=True).first()


def outbox_backlog() -> list[dict[str, Any]]:
    """Per ERP system (and unrouted messages as system None): pending, dead, oldest pending age."""
    now = timezone.now()
    rows = (
        OutboxMessage.objects.filter(status__in=[*UNSENT, OutboxStatus.DEAD])
        .values("system__code")
        .annotate(
            pending=Count("id", filter=Q(status__in=UNSENT)),
            dead=Count("id", filter=Q(status=OutboxStatus.DEAD)),
            oldest=Min("created_at", filter=Q(status__in=UNSENT)),
        )
    )
    found = {row["system__code"]: row for row in rows}
    out = []
    codes = list(ErpSystem.objects.order_by("code").values_list("code", flat=True))
    if None in found:
        codes.append(None)
    for code in codes:
        row = found.get(code, {})
        oldest = row.get("oldest")
        out.append(
            {
                "system": code,
                "pending": row.get("pending", 0),
                "dead": row.get("dead", 0),
                "oldest_pending_age_seconds": round((now - oldest).total_seconds(), 1) if oldest else None,
            }
        )
    return out


def outbox_waiting() -> tuple[int, datetime | None]:
    """All systems together: how many messages wait to be delivered, and when the oldest was created."""
    row = OutboxMessage.objects.filter(status__in=UNSENT).aggregate(
        waiting=Count("id"), oldest=Min("created_at")
    )
    return row["waiting"], row["oldest"]


def outbox_samples(*, since: datetime, until: datetime) -> list[OutboxSample]:
    """The backlog samples taken in [since, until], oldest first."""
    return list(OutboxSample.objects.filter(at__gte=since, at__lte=until).order_by("at"))


def dead_messages(system: ErpSystem | None = None):
    qs = OutboxMessage.objects.filter(status=OutboxStatus.DEAD).select_related("system")
    if system is not None:
        qs = qs.filter(system=system)
    return qs.order_by("aggregate_type", "aggregate_id", "sequence")


def inbox_failures(system: ErpSystem | None = None):
    qs = InboxMessage.objects.filter(status=InboxMessage.Status.FAILED).select_related("system")
    if system is not None:
        qs = qs.filter(system=system)
    return qs.order_by("-received_at")


def open_drifts(system: ErpSystem | None = None):
    """Open order drifts, newest first, with their ERP and order."""
    qs = OrderDrift.objects.filter(resolved_at__isnull=True).select_related("system", "order")
    if system is not None:
        qs = qs.filter(system=system)
    return qs.order_by("-detected_at", "order__number", "field", "position", "pk")


def drift_overview() -> list[dict[str, Any]]:
    """Per enabled ERP: its open drifts and its last comparison run (None before the first)."""
    systems = list(ErpSystem.objects.filter(enabled=True).order_by("code"))
    counts = dict(
        OrderDrift.objects.filter(resolved_at__isnull=True)
        .values_list("system_id")
        .annotate(n=Count("id"))
        .values_list("system_id", "n")
    )
    out = []
    for system in systems:
        last = (
            SyncRun.objects.filter(
                system=system, direction=SyncRun.Direction.RECONCILE, counts__has_key="compared"
            )
            .order_by("-started_at", "-pk")
            .first()
        )
        out.append({"system": system, "open": counts.get(system.pk, 0), "last": last})
    return out
