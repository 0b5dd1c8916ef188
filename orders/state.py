"""The order state machine: one map of allowed transitions and one helper that applies them.

Nothing assigns `Order.status` outside `order_transition`. Callers lock the order
(`select_for_update`) in their transaction first; the helper checks, changes, bumps the version and
writes the timeline event.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from oms.exceptions import InvalidTransition
from oms.lib.actors import Actor
from orders.models import Order, OrderEvent
from orders.models import OrderStatus as S

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLACED: frozenset(
        {S.CONFIRMED, S.ON_HOLD, S.SCHEDULED, S.CANCELLATION_REQUESTED, S.CANCELLED, S.REJECTED}
    ),
    S.ON_HOLD: frozenset({S.PLACED, S.CONFIRMED, S.CANCELLED, S.REJECTED}),
    S.CONFIRMED: frozenset({S.SCHEDULED, S.ON_HOLD, S.CANCELLATION_REQUESTED, S.CANCELLED, S.IN_DELIVERY}),
    S.SCHEDULED: frozenset({S.CONFIRMED, S.IN_DELIVERY, S.CANCELLATION_REQUESTED, S.CANCELLED}),
    S.IN_DELIVERY: frozenset({S.PARTIALLY_DELIVERED, S.DELIVERED, S.CANCELLATION_REQUESTED}),
    S.PARTIALLY_DELIVERED: frozenset({S.IN_DELIVERY, S.DELIVERED, S.COMPLETED, S.CANCELLATION_REQUESTED}),
    S.DELIVERED: frozenset({S.COMPLETED}),
    S.CANCELLATION_REQUESTED: frozenset(
        {S.CANCELLED, S.PLACED, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED}
    ),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
}
TERMINAL = frozenset(status for status, targets in ALLOWED_TRANSITIONS.items() if not targets)
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
    if to_status not in ALLOWED_TRANSITIONS[from_status]:
        raise InvalidTransition(
            f"An order cannot go from {from_status} to {to_status}.",
            extra={"from": from_status, "to": to_status},
        )
    now = timezone.now()
    order.status = to_status
    order.version += 1
    order.updated_at = now
    fields = ["status", "version", "updated_at"]
    if to_status in (S.ON_HOLD, S.CANCELLATION_REQUESTED):
        order.status_before = from_status
        fields.append("status_before")
    order.save(update_fields=fields)
    return OrderEvent.objects.create(
        order=order,
        at=now,
        type=event_type,
        actor_kind=actor.kind,
        actor=actor.name,
        channel=actor.channel,
        data={"from": from_status, "to": to_status, **(data or {})},
        visible_to_customer=visible,
    )
