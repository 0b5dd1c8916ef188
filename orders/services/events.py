"""Timeline events and the outbox messages that go with them."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from oms.lib.actors import Actor
from oms.outbox import outbox_enqueue
from orders.models import ErpSyncState, Order, OrderEvent
from orders.state import erp_sync_state_move
from orders.timeline import event_build, event_write, events_write


def order_event(
    order: Order,
    type: str,
    *,
    actor: Actor,
    data: dict[str, Any] | None = None,
    visible: bool = True,
    outbox_type: str | None = None,
    outbox_payload: dict[str, Any] | None = None,
    message=None,
    system=None,
) -> OrderEvent:
    """Write one timeline event; with `outbox_type`, also the ERP message it produced (or link the
    already written outbox row `message`, e.g. a job's). The message goes to `system` when given,
    else along the order's route (its ERP, the plant's, the default)."""
    if outbox_type is not None:
        message = outbox_enqueue(
            type=outbox_type,
            aggregate_type="order",
            aggregate_id=order.number,
            payload=outbox_payload if outbox_payload is not None else {},
            version=order.version,
            plant=order.plant,
            system=system or order.erp_system,
        )
        erp_sync_state_move(ErpSyncState.PENDING, order=order)
    return event_write(order, type, actor=actor, data=data, visible=visible, message=message)


def order_bump(order: Order, *fields: str) -> None:
    """Save `fields` of a locked order with a new version (for changes that are not transitions)."""
    order.version += 1
    order.updated_at = timezone.now()
    order.save(update_fields=[*fields, "version", "updated_at"])


def order_events_bulk(
    *,
    order_ids: list[int],
    type: str,
    actor: Actor,
    data: dict[str, Any] | None = None,
    visible: bool = False,
    at=None,
) -> list[OrderEvent]:
    """The same event on many orders in one statement (no outbox message)."""
    at = at or timezone.now()
    return events_write(
        event_build(order_id=pk, type=type, actor=actor, data=data, visible=visible, at=at)
        for pk in order_ids
    )
