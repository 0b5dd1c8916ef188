"""The outbound relay: claim due outbox rows, send them in batches per ERP, record the outcome.

Per aggregate only the oldest unsent message is ever claimed (message n+1 waits until n is sent),
so a retrying or dead message holds back its own aggregate only. Rows are claimed with
`SELECT … FOR UPDATE SKIP LOCKED` and stay locked while their batch is in flight: a worker that
dies mid-send releases them untouched, and the retry is deduplicated by the ERP through the id.

Outcomes (docs/erp-integration.md): accepted/duplicate → sent; rejected or a permanent 4xx → dead; 401/403 → the
connection pauses with backoff and nothing is parked; anything else → retried with capped
exponential backoff and jitter (base 1 s, cap 60 s).
"""

from __future__ import annotations

import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from erp_sync.adapters import Adapter, SendResult, adapter_for
from erp_sync.models import SyncRun
from oms.lib.env import env_int
from oms.models import ErpSystem, OutboxMessage, OutboxStatus
from oms.outbox import route_system

logger = logging.getLogger(__name__)

BATCH_SIZE = env_int("OMS_ERP_BATCH_SIZE", 500)
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
DUE = (OutboxStatus.PENDING, OutboxStatus.FAILED)


def backoff_seconds(attempts: int) -> float:
    """Capped exponential backoff with equal jitter: in [c/2, c] where c = min(60, 2^(n-1))."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempts - 1, 0))
    return random.uniform(ceiling / 2, ceiling)


def envelope_for(message: OutboxMessage) -> dict[str, Any]:
    return {
        "id": str(message.id),
        "type": message.type,
        "occurred_at": message.created_at.isoformat().replace("+00:00", "Z"),
        "entity": {"type": message.aggregate_type, "key": message.aggregate_id},
        "version": message.version,
        "sequence": message.sequence,
        "data": message.payload,
    }


def _earlier_unsent():
    return OutboxMessage.objects.filter(
        aggregate_type=OuterRef("aggregate_type"),
        aggregate_id=OuterRef("aggregate_id"),
        sequence__lt=OuterRef("sequence"),
    ).exclude(status=OutboxStatus.SENT)


def claim_due(system: ErpSystem, *, limit: int) -> list[OutboxMessage]:
    """Lock up to `limit` due aggregate heads of `system` (caller holds the transaction)."""
    return list(
        OutboxMessage.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(system=system, status__in=DUE, next_attempt_at__lte=timezone.now())
        .filter(~Exists(_earlier_unsent()))
        .order_by("next_attempt_at", "created_at")[:limit]
    )


@dataclass
class BatchOutcome:
    claimed: int = 0
    counts: Counter = field(default_factory=Counter)
    paused: bool = False


def relay_send_batch(system: ErpSystem, adapter: Adapter, *, limit: int = BATCH_SIZE) -> BatchOutcome:
    """Claim, send and record one batch for `system`, in one transaction."""
    outcome = BatchOutcome()
    with transaction.atomic():
        messages = claim_due(system, limit=limit)
        outcome.claimed = len(messages)
        if not messages:
            return outcome
        result = adapter.send([envelope_for(m) for m in messages])
        if result.kind == "permanent" and len(messages) > 1:
            # One bad message must not kill its batch-mates: find it by sending them one by one.
            for message in messages:
                single = adapter.send([envelope_for(message)])
                if single.kind == "auth":
                    _pause(system, single.error)
                    outcome.paused = True
                    break
                _record(system, [message], single, outcome.counts)
        elif result.kind == "auth":
            _pause(system, result.error)
            OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).update(
                last_error=result.error[:500]
            )
            outcome.paused = True
        else:
            _record(system, messages, result, outcome.counts)
        if not outcome.paused and system.connection_state != ErpSystem.ConnectionState.OK:
            _resume(system)
    return outcome


def _record(system: ErpSystem, messages: list[OutboxMessage], result: SendResult, counts: Counter) -> None:
    now = timezone.now()
    by_id = {str(m.id): m for m in messages}
    sent: dict[str, list] = {"accepted": [], "duplicate": []}
    dead: list[tuple[OutboxMessage, str]] = []
    retry: list[tuple[OutboxMessage, str]] = []
    if result.kind == "results":
        for key, message in by_id.items():
            answer = result.results.get(key)
            if answer is None:
                retry.append((message, "missing from the ERP's results"))
            elif answer["status"] in sent:
                sent[answer["status"]].append(message.pk)
            else:
                dead.append((message, f"rejected: {answer.get('error') or 'no reason given'}"))
    elif result.kind == "permanent":
        dead = [(m, result.error) for m in messages]
    else:
        retry = [(m, result.error) for m in messages]

    for status, pks in sent.items():
        if pks:
            OutboxMessage.objects.filter(pk__in=pks).update(
                status=OutboxStatus.SENT,
                sent_at=now,
                attempts=F("attempts") + 1,
                last_error="",
                erp_ack={"status": status},
            )
            counts[status] += len(pks)
    for message, error in dead:
        OutboxMessage.objects.filter(pk=message.pk).update(
            status=OutboxStatus.DEAD, attempts=F("attempts") + 1, last_error=error[:2000], erp_ack=None
        )
        counts["dead"] += 1
    # One backoff per (attempt count, error): rows of one batch retry together, jittered per group.
    groups: dict[tuple[int, str], list[OutboxMessage]] = {}
    for message, error in retry:
        groups.setdefault((message.attempts + 1, error), []).append(message)
    for (attempts, error), group in groups.items():
        OutboxMessage.objects.filter(pk__in=[m.pk for m in group]).update(
            status=OutboxStatus.FAILED,
            attempts=attempts,
            next_attempt_at=now + timedelta(seconds=backoff_seconds(attempts)),
            last_error=error[:2000],
        )
    if retry:
        counts["retry"] += len(retry)
    if sent["accepted"] or sent["duplicate"]:
        ErpSystem.objects.filter(pk=system.pk).update(last_push_at=now)
    _mark_orders(messages, dead=[m for m, _e in dead])


def _mark_orders(messages: list[OutboxMessage], *, dead: list[OutboxMessage]) -> None:
    """Order.erp_sync_state: failed when a message died; sent when nothing is left to send."""
    from orders.models import ErpSyncState, Order
    from orders.state import erp_sync_state_move

    numbers = {m.aggregate_id for m in messages if m.aggregate_type == "order"}
    if not numbers:
        return
    dead_numbers = {m.aggregate_id for m in dead if m.aggregate_type == "order"}
    if dead_numbers:
        erp_sync_state_move(ErpSyncState.FAILED, orders=Order.objects.filter(number__in=dead_numbers))
    unsent = OutboxMessage.objects.filter(aggregate_type="order", aggregate_id=OuterRef("number")).exclude(
        status=OutboxStatus.SENT
    )
    # A failed order whose dead message was replayed and delivered is sent again too.
    erp_sync_state_move(
        ErpSyncState.SENT,
        orders=Order.objects.filter(
            number__in=numbers - dead_numbers, erp_sync_state__in=[ErpSyncState.PENDING, ErpSyncState.FAILED]
        ).exclude(Exists(unsent)),
    )


def _pause(system: ErpSystem, reason: str) -> None:
    now = timezone.now()
    count = system.pause_count + 1
    until = now + timedelta(seconds=backoff_seconds(count))
    ErpSystem.objects.filter(pk=system.pk).update(
        connection_state=ErpSystem.ConnectionState.PAUSED,
        paused_reason=f"credentials refused: {reason}"[:500],
        paused_until=until,
        pause_count=count,
    )
    system.connection_state, system.pause_count, system.paused_until = "paused", count, until
    logger.error("ERP connection paused: credentials refused", extra={"erp": system.code, "reason": reason})


def _resume(system: ErpSystem) -> None:
    ErpSystem.objects.filter(pk=system.pk).update(
        connection_state=ErpSystem.ConnectionState.OK, paused_reason="", paused_until=None, pause_count=0
    )
    system.connection_state, system.pause_count, system.paused_until = "ok", 0, None
    logger.info("ERP connection resumed", extra={"erp": system.code})


def route_unrouted() -> int:
    """Messages enqueued while no ERP could take them go to the default ERP once there is one."""
    default = route_system()
    if default is None:
        return 0
    return OutboxMessage.objects.filter(system__isnull=True, status__in=DUE).update(system=default)


def sendable_systems(now=None) -> list[ErpSystem]:
    now = now or timezone.now()
    return list(
        ErpSystem.objects.filter(enabled=True)
        .filter(
            Q(connection_state=ErpSystem.ConnectionState.OK)
            | Q(paused_until__isnull=True)
            | Q(paused_until__lte=now)
        )
        .order_by("code")
    )


def relay_drain(*, max_seconds: float = 20.0, batch_size: int = BATCH_SIZE) -> tuple[Counter, bool]:
    """Send due messages for every sendable ERP until none is due or time is up.

    Returns (counts, more_due). Safe to run concurrently with itself (rows are claimed).
    """
    deadline = time.monotonic() + max_seconds
    route_unrouted()
    started = timezone.now()
    totals: Counter = Counter()
    per_system: dict[ErpSystem, Counter] = {}
    active = sendable_systems()
    adapters: dict[int, Adapter] = {}
    try:
        while active and time.monotonic() < deadline:
            for system in list(active):
                adapter = adapters.get(system.pk) or adapters.setdefault(system.pk, adapter_for(system))
                outcome = relay_send_batch(system, adapter, limit=batch_size)
                if outcome.claimed == 0 or outcome.paused:
                    active.remove(system)
                if outcome.claimed:
                    per_system.setdefault(system, Counter()).update(outcome.counts)
                    totals.update(outcome.counts)
                if outcome.paused:
                    per_system[system]["paused"] += 1
                if time.monotonic() >= deadline:
                    break
    finally:
        for adapter in adapters.values():
            adapter.close()
    finished = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            system=system,
            direction=SyncRun.Direction.PUSH,
            started_at=started,
            finished_at=finished,
            counts=dict(counts),
            outcome="paused" if counts.get("paused") else ("retry" if counts.get("retry") else "ok"),
        )
        for system, counts in per_system.items()
    )
    # Work left only when a system still had claims at the deadline (blocked heads do not count).
    more = bool(active)
    return totals, more
