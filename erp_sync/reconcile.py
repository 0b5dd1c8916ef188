"""Reconciliation with the ERPs, in two parts.

`erp_reconcile` — daily: repair drift between orders, the outbox and the inbox (each step idempotent,
counted in a `SyncRun` per ERP):
- routes outbox messages that were enqueued before any ERP could take them;
- fixes `Order.erp_sync_state` of recent orders from their outbox rows (sent / failed / pending);
- counts recent orders sent to the ERP but still not acknowledged (`unacknowledged`, for the monitor);
- applies inbox rows left in `received` (a lost nudge) and purges the ERP jobs' old slot claims.

`erp_compare` — hourly (added in 0.2): ask one ERP what it believes about the orders the OMS announced
to it (`Adapter.order_states`, docs/erp-integration.md "Order state") and keep one `OrderDrift` row per
difference. Orders with a message to that ERP still unsent, or sent while the comparison runs, are
skipped (`in_flight`): the ERP cannot know yet what they say. Any transport error fails the whole run
before anything is written; the run is a `SyncRun(direction=reconcile)` whose counts hold `compared`.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from erp_sync.adapters import ErpLine, ErpOrderState, TransportError, Unsupported, adapter_for
from erp_sync.adapters.base import LINE_FIELDS, MAX_STATE_ORDERS
from erp_sync.models import OrderDrift, SyncRun
from erp_sync.relay import route_unrouted
from oms.lib.env import env_int
from oms.lib.lease import lease_acquire, lease_release
from oms.models import ErpSystem, JobSlot, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

COMPARE_DAYS = env_int("OMS_ERP_COMPARE_DAYS", 7)
COMPARE_LEASE_SECONDS = 900
# Orders read from the database per query while comparing (keeps `IN (...)` lists short).
READ_CHUNK = 2000
F = OrderDrift.Field


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


# --- comparison with the ERP (added in 0.2) ------------------------------------------------------


def status_phase(status: str) -> str:
    """What of an order's status the ERP is compared on (docs/erp-integration.md, Order state): the
    OMS does not tell the ERP every transition (holds, scheduling and delivery progress travel as
    line quantities), so only whether the order lives, was cancelled or was rejected is compared."""
    from orders.models import OrderStatus

    return {OrderStatus.CANCELLED: "cancelled", OrderStatus.REJECTED: "rejected"}.get(status, "open")


def _qty(value: Decimal) -> str:
    return f"{value:.3f}"


Key = tuple[str, int | None]  # (field, position)


def order_differences(
    status: str, lines: dict[int, ErpLine], erp: ErpOrderState | None
) -> dict[Key, tuple[str, str]]:
    """(field, position) → (OMS value, ERP value) for every difference between the OMS's order
    (`status`, `lines` by position) and the ERP's view of it (None: the ERP does not know it)."""
    from orders.models import OrderStatus

    if erp is None:
        return {(F.UNKNOWN, None): (status, "")}
    out: dict[Key, tuple[str, str]] = {}
    if status_phase(status) != status_phase(erp.status):
        out[(F.STATUS, None)] = (status, erp.status)
    if status == OrderStatus.REJECTED:
        return out  # the ERP refused it; the OMS sends nothing about its lines afterwards
    for position in sorted(set(lines) | set(erp.lines)):
        mine, theirs = lines.get(position), erp.lines.get(position)
        if mine is None or theirs is None:
            out[(F.LINE, position)] = (
                _qty(mine.quantity) if mine else "",
                _qty(theirs.quantity) if theirs else "",
            )
            continue
        for name in LINE_FIELDS:
            if getattr(mine, name) != getattr(theirs, name):
                out[(name, position)] = (_qty(getattr(mine, name)), _qty(getattr(theirs, name)))
    return out


@dataclass
class CompareResult:
    system: str
    outcome: str  # ok | failed | unsupported | busy (another comparison of this ERP is running)
    counts: dict[str, int] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0

    def line(self) -> str:
        """The command's one line: `compared: system=ERP1 outcome=ok compared=500 … seconds=0.84`."""
        parts = [f"system={self.system}", f"outcome={self.outcome}"]
        parts += [f"{k}={v}" for k, v in sorted(self.counts.items())]
        parts.append(f"seconds={self.seconds:.2f}")
        if self.error:
            parts.append(f"error={self.error[:200]!r}")
        return "compared: " + " ".join(parts)


def _order_messages():
    return OutboxMessage.objects.filter(aggregate_type="order", aggregate_id=OuterRef("number"))


def _unsettled(system: ErpSystem, started: datetime):
    """Order messages the ERP may not have applied when it answered: to this ERP (or not yet routed)
    and unsent, or sent since the comparison started."""
    return (
        _order_messages()
        .filter(Q(system=system) | Q(system__isnull=True))
        .exclude(status=OutboxStatus.SENT, sent_at__lt=started)
    )


def compare_candidates(system: ErpSystem, *, since: datetime, started: datetime) -> tuple[list[str], int]:
    """(numbers to ask about, orders skipped as in flight): orders announced to this ERP with
    `order.created`, placed since `since` or with an open drift of this ERP."""
    from orders.models import Order

    announced = _order_messages().filter(system=system, type="order.created")
    open_drifts = OrderDrift.objects.filter(system=system, resolved_at__isnull=True).values("order_id")
    rows = (
        Order.objects.filter(Q(created_at__gte=since) | Q(pk__in=open_drifts))
        .filter(Exists(announced))
        .annotate(busy=Exists(_unsettled(system, started)))
        .order_by("pk")
        .values_list("number", "busy")
    )
    numbers, busy = [], 0
    for number, in_flight in rows:
        if in_flight:
            busy += 1
        else:
            numbers.append(number)
    return numbers, busy


def _oms_state(numbers: list[str], system: ErpSystem, started: datetime) -> tuple[dict, set[str]]:
    """({number: (order id, status, {position: ErpLine})}, numbers now in flight), read in chunks;
    the state is read before the in-flight check, so a change committed meanwhile is caught by it."""
    from orders.models import Order, OrderLine

    state: dict[str, tuple[int, str, dict[int, ErpLine]]] = {}
    busy: set[str] = set()
    for start in range(0, len(numbers), READ_CHUNK):
        chunk = numbers[start : start + READ_CHUNK]
        orders = {
            pk: (number, status)
            for pk, number, status in Order.objects.filter(number__in=chunk).values_list(
                "pk", "number", "status"
            )
        }
        lines: dict[int, dict[int, ErpLine]] = {pk: {} for pk in orders}
        for order_id, position, *values in OrderLine.objects.filter(order_id__in=list(orders)).values_list(
            "order_id", "position", "quantity", "delivered", "returned", "cancelled"
        ):
            lines[order_id][position] = ErpLine(position, *values)
        for pk, (number, status) in orders.items():
            state[number] = (pk, status, lines[pk])
        busy.update(
            Order.objects.filter(number__in=chunk)
            .filter(Exists(_unsettled(system, started)))
            .values_list("number", flat=True)
        )
    return state, busy


def _store_drifts(
    system: ErpSystem, answers: dict[str, ErpOrderState | None], started: datetime, counts: Counter
) -> None:
    """Open, update and close drift rows of `system` for the orders answered (one transaction)."""
    now = timezone.now()
    open_rows = {
        (d.order_id, d.field, d.position): d
        for d in OrderDrift.objects.select_for_update()
        .filter(system=system, resolved_at__isnull=True)
        .order_by("pk")  # the lock order of `drift_resolve`
    }
    state, busy = _oms_state(list(answers), system, started)
    found: dict[tuple[int, str, int | None], tuple[str, str]] = {}
    compared: set[int] = set()
    for number, erp in answers.items():
        if number not in state:
            continue  # deleted meanwhile
        if number in busy:
            counts["in_flight"] += 1
            continue
        pk, status, lines = state[number]
        compared.add(pk)
        counts["unknown"] += erp is None
        for (name, position), values in order_differences(status, lines, erp).items():
            found[(pk, name, position)] = values
    counts["compared"] = len(compared)
    counts["differences"] = len(found)
    converged = [d.pk for key, d in open_rows.items() if d.order_id in compared and key not in found]
    if converged:
        OrderDrift.objects.filter(pk__in=converged).update(
            resolved_at=now, resolution=OrderDrift.Resolution.CONVERGED, resolved_by="system"
        )
    changed = []
    for key, (oms_value, erp_value) in found.items():
        row = open_rows.get(key)
        if row is not None and (row.oms_value, row.erp_value) != (oms_value, erp_value):
            row.oms_value, row.erp_value = oms_value, erp_value
            changed.append(row)
    OrderDrift.objects.bulk_update(changed, ["oms_value", "erp_value"])
    new = [
        OrderDrift(
            system=system,
            order_id=pk,
            field=name,
            position=position,
            oms_value=oms_value,
            erp_value=erp_value,
            detected_at=now,
        )
        for (pk, name, position), (oms_value, erp_value) in found.items()
        if (pk, name, position) not in open_rows
    ]
    OrderDrift.objects.bulk_create(new)
    counts["opened"] = len(new)
    counts["converged"] = len(converged)
    counts["open"] = OrderDrift.objects.filter(system=system, resolved_at__isnull=True).count()


def erp_compare(
    *, system: ErpSystem, days: int | None = None, max_seconds: float | None = None
) -> CompareResult:
    """Compare the orders of the last `days` (default `OMS_ERP_COMPARE_DAYS`, 7) announced to
    `system`, and those with an open drift there, with the ERP's view; record the run. A run still
    asking after `max_seconds` gives up and is recorded as failed (the task stays in its time limit)."""
    days = COMPARE_DAYS if days is None else days
    holder = uuid.uuid4().hex
    lease = f"erp-compare:{system.code}"
    if not lease_acquire(lease, holder=holder, ttl_seconds=COMPARE_LEASE_SECONDS):
        return CompareResult(system.code, "busy")
    clock = time.monotonic()
    started = timezone.now()
    counts: Counter = Counter({"compared": 0, "requests": 0})
    outcome, error = "ok", ""
    adapter = adapter_for(system)
    try:
        if not adapter.answers_order_states:
            raise adapter.unsupported()
        numbers, counts["in_flight"] = compare_candidates(
            system, since=started - timedelta(days=days), started=started
        )
        answers: dict[str, ErpOrderState | None] = {}
        for start in range(0, len(numbers), MAX_STATE_ORDERS):
            if max_seconds is not None and time.monotonic() - clock > max_seconds:
                raise TransportError(f"gave up after {max_seconds:.0f} s with {len(answers)} orders answered")
            lease_acquire(lease, holder=holder, ttl_seconds=COMPARE_LEASE_SECONDS)  # renew: still running
            counts["requests"] += 1
            answers.update(adapter.order_states(numbers[start : start + MAX_STATE_ORDERS]))
        with transaction.atomic():
            _store_drifts(system, answers, started, counts)
    except Unsupported as exc:
        outcome, error = "unsupported", str(exc)
    except TransportError as exc:
        outcome, error = "failed", str(exc)
        logger.warning("ERP comparison failed", extra={"erp": system.code, "error": error})
    finally:
        adapter.close()
        lease_release(lease, holder=holder)
    if outcome != "ok":
        counts = Counter({"compared": 0, "requests": counts["requests"]})
    SyncRun.objects.create(
        system=system,
        direction=SyncRun.Direction.RECONCILE,
        started_at=started,
        finished_at=timezone.now(),
        counts=dict(counts),
        outcome=outcome,
        error=error[:2000],
    )
    return CompareResult(system.code, outcome, dict(counts), error, time.monotonic() - clock)


def systems_to_compare(now=None) -> list[ErpSystem]:
    """Enabled ERPs that are not paused (file drops included: their runs record `unsupported`)."""
    now = now or timezone.now()
    return [
        system
        for system in ErpSystem.objects.filter(enabled=True).order_by("code")
        if system.connection_state != ErpSystem.ConnectionState.PAUSED
        or (system.paused_until is not None and system.paused_until <= now)
    ]
