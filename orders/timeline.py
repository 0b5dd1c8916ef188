"""The order timeline's one writer: every `OrderEvent` row is built by `event_build` and stored by
`event_write` (one row) or `events_write` (many, one statement).

The services decide what happens (`orders.state.order_transition` for status changes,
`orders.services.events.order_event` for everything else, with its outbox message); this module only
writes what they decided, so every event has the same shape: order, time, dotted type, actor kind,
actor name, channel, data, customer visibility and the outbox message it produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.utils import timezone

from oms.lib.actors import Actor
from orders.models import OrderEvent


def event_build(
    *,
    order_id: int,
    type: str,
    actor: Actor,
    data: dict[str, Any] | None = None,
    visible: bool = True,
    message=None,
    at: datetime | None = None,
) -> OrderEvent:
    """An unsaved timeline row."""
    return OrderEvent(
        order_id=order_id,
        at=at or timezone.now(),
        type=type,
        actor_kind=actor.kind,
        actor=actor.name,
        channel=actor.channel,
        data=data or {},
        visible_to_customer=visible,
        outbox_message=message,
    )


def event_write(order, type: str, **fields) -> OrderEvent:
    """Store one timeline row of `order` (fields as `event_build`)."""
    event = event_build(order_id=order.pk, type=type, **fields)
    event.order = order
    event.save(force_insert=True)
    return event


def events_write(events: Iterable[OrderEvent]) -> list[OrderEvent]:
    """Store many rows built by `event_build` in one statement."""
    return OrderEvent.objects.bulk_create(list(events))
