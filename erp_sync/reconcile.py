"""Daily reconciliation: repair drift between orders, the outbox and the inbox.

What it does (each step idempotent, counted in a `SyncRun` per ERP):
- routes outbox messages that were enqueued before any ERP could take them;
- fixes `Order.erp_sync_state` of recent orders from their outbox rows (sent / failed / pending);
- counts recent orders sent to the ERP but still not acknowledged (`unacknowledged`, for the monitor);
- applies inbox rows left in `received` (a lost nudge) and purges the ERP jobs' old slot claims.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from erp_sync.models import SyncRun
from erp_sync.relay import route_unrouted
from oms.models import ErpSystem, JobSlot, OutboxMessage, OutboxStatus


def erp_reconcile(*, system: ErpSystem | None = None, days: int = 2) -> dict:
    from erp_sync.inbound import inbox_apply_pending
    from orders.models import ErpSyncState, Order, OrderStatus
    from orders.state import erp_sync_state_move

    started = timezone.now()
    since = started - timedelta(days=days)
    totals: Counter = Counter()
    totals["routed"] = route_unrouted()
    systems = [system] if system is not None else list(ErpSystem.objects.order_by("code"))
    for erp in systems:
        counts: Counter = Counter()
        messages = OutboxMessage.objects.filter(aggregate_type="order", aggregate_id=OuterRef("number"))
        orders = Order.objects.filter(created_at__gte=since).filter(Exists(messages.filter(system=erp)))
        dead = messages.filter(status=OutboxStatus.DEAD)
        unsent = messages.exclude(status=OutboxStatus.SENT)
        counts["marked_failed"] = erp_sync_state_move(ErpSyncState.FAILED, orders=orders.filter(Exists(dead)))
        counts["marked_pending"] = erp_sync_state_move(
            ErpSyncState.PENDING, orders=orders.filter(Exists(unsent)).exclude(Exists(dead))
        )
        counts["marked_sent"] = erp_sync_state_move(
            ErpSyncState.SENT,
            orders=orders.exclude(Exists(unsent)).filter(
                erp_sync_state__in=[ErpSyncState.PENDING, ErpSyncState.FAILED, ErpSyncState.NONE]
            ),
        )
        counts["unacknowledged"] = orders.filter(
            erp_sync_state=ErpSyncState.SENT,
            status=OrderStatus.PLACED,
            created_at__lte=started - timedelta(hours=1),
        ).count()
        SyncRun.objects.create(
            system=erp,
            direction=SyncRun.Direction.RECONCILE,
            started_at=started,
            finished_at=timezone.now(),
            counts=dict(counts),
            outcome="ok",
        )
        totals.update(counts)
    applied, _more = inbox_apply_pending(max_seconds=60)
    totals["applied"] = sum(applied.values())
    totals["slots_purged"] = JobSlot.objects.filter(
        job__startswith="erp-", claimed_at__lt=started - timedelta(days=2)
    ).delete()[0]
    return dict(totals)
