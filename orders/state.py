"""The order's state machines: one map per status field and one helper that applies it.

- `Order.status`: `ALLOWED_TRANSITIONS` and `order_transition` (nothing else assigns it). Callers lock
  the order (`select_for_update`) in their transaction first; the helper checks, changes, bumps the
  version and writes the timeline event.
- `Order.erp_sync_state`: `ERP_SYNC_TRANSITIONS` and `erp_sync_state_move` (one order, or every order
  of a queryset that may move, in one conditional update).
- `CallOff.status`: `CALL_OFF_TRANSITIONS`; `ReturnRequest.status`: `RETURN_TRANSITIONS`.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from oms.lib.actors import Actor
from oms.lib.transitions import Transitions
from orders.models import CallOff, ErpSyncState, Order, OrderEvent, ReturnStatus
from orders.models import OrderStatus as S
from orders.timeline import event_write

ALLOWED_TRANSITIONS = Transitions(
    "order",
    {
        S.PLACED: {S.CONFIRMED, S.ON_HOLD, S.SCHEDULED, S.CANCELLATION_REQUESTED, S.CANCELLED, S.REJECTED},
        S.ON_HOLD: {S.PLACED, S.CONFIRMED, S.CANCELLED, S.REJECTED},
        S.CONFIRMED: {S.SCHEDULED, S.ON_HOLD, S.CANCELLATION_REQUESTED, S.CANCELLED, S.IN_DELIVERY},
        S.SCHEDULED: {S.CONFIRMED, S.IN_DELIVERY, S.CANCELLATION_REQUESTED, S.CANCELLED},
        S.IN_DELIVERY: {S.PARTIALLY_DELIVERED, S.DELIVERED, S.CANCELLATION_REQUESTED},
        S.PARTIALLY_DELIVERED: {S.IN_DELIVERY, S.DELIVERED, S.COMPLETED, S.CANCELLATION_REQUESTED},
        S.DELIVERED: {S.COMPLETED},
        S.CANCELLATION_REQUESTED: {
            S.CANCELLED,
            S.PLACED,
            S.CONFIRMED,
            S.SCHEDULED,
            S.IN_DELIVERY,
            S.PARTIALLY_DELIVERED,
        },
        S.COMPLETED: set(),
        S.CANCELLED: set(),
        S.REJECTED: set(),
    },
)
TERMINAL = ALLOWED_TRANSITIONS.terminal

E = ErpSyncState
# Where the order stands with its ERP: pending while a message waits, sent when all were delivered,
# acknowledged once the ERP confirmed it, failed while a message is dead. A new message makes any
# order pending again; a dead one makes any order failed.
ERP_SYNC_TRANSITIONS = Transitions(
    "ERP sync state",
    {
        E.NONE: {E.PENDING, E.SENT, E.ACKNOWLEDGED, E.FAILED},
        E.PENDING: {E.SENT, E.ACKNOWLEDGED, E.FAILED},
        E.SENT: {E.PENDING, E.ACKNOWLEDGED, E.FAILED},
        E.ACKNOWLEDGED: {E.PENDING, E.FAILED},
        E.FAILED: {E.PENDING, E.SENT, E.ACKNOWLEDGED},
    },
    field="erp_sync_state",
)

CO = CallOff.Status
CALL_OFF_TRANSITIONS = Transitions(
    "call-off",
    {
        CO.OPEN: {CO.SCHEDULED, CO.CANCELLED},
        CO.SCHEDULED: {CO.DONE, CO.CANCELLED},
        CO.DONE: set(),
        CO.CANCELLED: set(),
    },
)

R = ReturnStatus
RETURN_TRANSITIONS = Transitions(
    "return",
    {
        R.REQUESTED: {R.APPROVED, R.REJECTED},
        R.APPROVED: {R.PICKUP_SCHEDULED, R.RECEIVED},
        R.PICKUP_SCHEDULED: {R.RECEIVED},
        R.RECEIVED: {R.CLOSED},
        R.REJECTED: set(),
        R.CLOSED: set(),
    },
)
# Statuses a cancellation request or hold may return to (remembered in Order.status_before).
RESUMABLE = frozenset({S.PLACED, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED})


def can_transition(order: Order, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS[order.status]


def order_transition(
    order: Order,
    to_status: str,
    *,
    actor: Actor,
    data: dict[str, Any] | None = None,
    event_type: str = "order.status_changed",
    visible: bool = True,
) -> OrderEvent:
    """Move `order` (locked by the caller) to `to_status`; raises InvalidTransition otherwise."""
    from_status = order.status
    ALLOWED_TRANSITIONS.check(from_status, to_status)
    now = timezone.now()
    order.status = to_status
    order.version += 1
    order.updated_at = now
    fields = ["status", "version", "updated_at"]
    if to_status in (S.ON_HOLD, S.CANCELLATION_REQUESTED):
        order.status_before = from_status
        fields.append("status_before")
    order.save(update_fields=fields)
    return event_write(
        order,
        event_type,
        actor=actor,
        data={"from": from_status, "to": to_status, **(data or {})},
        visible=visible,
        at=now,
    )


def erp_sync_state_move(to_state: str, *, order: Order | None = None, orders: QuerySet | None = None) -> int:
    """Move one order (its in-memory copy too) or every order of `orders` that may move to
    `to_state`; orders whose state does not allow the move keep it. Returns how many moved."""
    if order is not None:
        if not ERP_SYNC_TRANSITIONS.allows(order.erp_sync_state, to_state):
            return 0
        moved = ERP_SYNC_TRANSITIONS.update(Order.objects.filter(pk=order.pk), to_state)
        order.erp_sync_state = to_state
        return moved
    return ERP_SYNC_TRANSITIONS.update(orders, to_state)
