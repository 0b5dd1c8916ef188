"""Order side of the fleet: how jobs move the order, its lines, its stock and its timeline.

Called by `fleet.services` inside their transaction, on an order they locked (`select_for_update`);
these functions lock nothing themselves except stock rows (in primary-key order, via
`orders.services.stock`). Each writes the order timeline and, where the ERP must know, the outbox.

- `order_mark_scheduled(*, order, actor, ticket)`: placed/confirmed → scheduled (a job was assigned).
- `order_loading_started(*, order, actor, ticket, at)`: sets `loading_started_at` once (cancelling
  then needs approval) and moves the order to `in_delivery`.
- `order_record_loaded(*, order, loaded, actor, ticket)`: `OrderLine.loaded += q`; `item.positions`.
- `order_record_delivery(*, order, lines, actor, ticket, at)`: `delivered`/`returned` on the lines,
  stock consumed for stocked lines (on_hand and allocated both − delivered, the line's allocation
  too), status `partially_delivered` or `delivered`; `item.positions`.
- `order_job_timeline(*, order, type, actor, data, message=None)`: a job event on the order timeline,
  optionally linked to the job's outbox message.

Returned quantities stay off the stock: for stocked goods the material comes back to the plant and
was never taken off `on_hand`; its allocation stays with the line until the order is closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db.models import F
from django.db.models.functions import Greatest

from catalog.services import stock_consume
from oms.lib.actors import Actor
from orders.models import ZERO_QTY, Order, OrderEvent, OrderLine
from orders.models import OrderStatus as S
from orders.payloads import item_positions
from orders.services.events import order_bump, order_event
from orders.state import can_transition, order_transition

# The order statuses a load in progress moves through, in order.
_TOWARDS_DELIVERY = (S.SCHEDULED, S.IN_DELIVERY)
# Statuses the fleet may move; a hold or a pending cancellation is left to the people deciding it.
_FLEET_DRIVEN = frozenset({S.PLACED, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED})


def order_job_timeline(
    *, order: Order, type: str, actor: Actor, data: dict[str, Any], message=None, visible: bool = True
) -> OrderEvent:
    """A fleet event on the order timeline (no status change). `message`: the job's outbox row."""
    return order_event(order, type, actor=actor, data=data, visible=visible, message=message)


def _advance(order: Order, targets: Iterable[str], *, actor: Actor, data: dict[str, Any]) -> None:
    """Walk the order forward through `targets` as far as its state machine allows; never backwards."""
    for target in targets:
        if order.status == target:
            continue
        if can_transition(order, target):
            order_transition(order, target, actor=actor, data=data)


def order_mark_scheduled(*, order: Order, actor: Actor, ticket: str) -> None:
    if order.status in (S.PLACED, S.CONFIRMED):
        order_transition(order, S.SCHEDULED, actor=actor, data={"ticket": ticket})


def order_loading_started(*, order: Order, actor: Actor, ticket: str, at: datetime) -> None:
    if order.loading_started_at is None:
        order.loading_started_at = at
        order_bump(order, "loading_started_at")
        order_job_timeline(order=order, type="order.loading_started", actor=actor, data={"ticket": ticket})
    if order.status in _FLEET_DRIVEN:
        _advance(order, _TOWARDS_DELIVERY, actor=actor, data={"ticket": ticket})


def _positions_event(order: Order, type: str, *, actor: Actor, data: dict[str, Any]) -> OrderEvent:
    lines = list(OrderLine.objects.filter(order=order).order_by("position"))
    return order_event(
        order,
        type,
        actor=actor,
        data=data,
        outbox_type="item.positions",
        outbox_payload=item_positions(order, lines),
    )


def order_record_loaded(
    *, order: Order, loaded: list[tuple[int, Decimal]], actor: Actor, ticket: str
) -> OrderEvent:
    """`loaded`: (order line id, quantity) pairs put on the truck."""
    for line_id, quantity in loaded:
        if quantity > 0:
            OrderLine.objects.filter(pk=line_id, order=order).update(loaded=F("loaded") + quantity)
    order_bump(order)
    return _positions_event(order, "job.loaded", actor=actor, data={"ticket": ticket})


def order_record_delivery(
    *,
    order: Order,
    lines: list[tuple[int, Decimal, Decimal]],
    actor: Actor,
    ticket: str,
    at: datetime,
) -> OrderEvent:
    """`lines`: (order line id, delivered, returned). Moves the order to (partially) delivered."""
    by_id = {
        line.pk: line for line in OrderLine.objects.select_for_update().filter(order=order).order_by("pk")
    }
    consumed: list[tuple[int, Decimal]] = []
    for line_id, delivered, returned in lines:
        line = by_id[line_id]
        changes: dict[str, Any] = {
            "delivered": F("delivered") + delivered,
            "returned": F("returned") + returned,
        }
        if line.stocked and delivered > 0:
            changes["allocated"] = Greatest(F("allocated") - delivered, ZERO_QTY)
            consumed.append((line.product_id, delivered))
        OrderLine.objects.filter(pk=line_id).update(**changes)
    stock_consume(plant_id=order.plant_id, items=consumed)
    order_bump(order)
    event = _positions_event(
        order, "job.delivered", actor=actor, data={"ticket": ticket, "at": at.isoformat()}
    )
    fresh = list(OrderLine.objects.filter(order=order))
    complete = all(line.delivered >= line.quantity - line.cancelled for line in fresh)
    target = S.DELIVERED if complete else S.PARTIALLY_DELIVERED
    if order.status in _FLEET_DRIVEN and order.status != target:
        if can_transition(order, target):
            order_transition(order, target, actor=actor, data={"ticket": ticket})
        else:
            _advance(order, (*_TOWARDS_DELIVERY, target), actor=actor, data={"ticket": ticket})
    return event


def order_delivery_amend(
    *,
    order: Order,
    line: OrderLine,
    old: Decimal,
    new: Decimal,
    reason: str,
    actor: Actor,
    ticket: str,
    epod_sha256: str | None,
) -> OrderEvent:
    """A delivered quantity of one load changed from `old` to `new` after the fact (the fleet checked
    it): the order line follows, the customer sees it, and the ERP gets `order.correction` with field
    `delivered`. Stock on hand is the ERP's (its next `stock.level`); allocations do not change."""
    OrderLine.objects.filter(pk=line.pk).update(delivered=Greatest(F("delivered") + (new - old), ZERO_QTY))
    order_bump(order)
    change = {
        "position": line.position,
        "field": "delivered",
        "old": f"{old:.3f}",
        "new": f"{new:.3f}",
        "reason": reason,
    }
    event = order_event(
        order,
        "delivery.amended",
        actor=actor,
        data={"ticket": ticket, **change},
        outbox_type="order.correction",
        outbox_payload={
            "order": order.number,
            "erp_order": order.erp_order_number or None,
            "ticket": ticket,
            "epod_sha256": epod_sha256,
            "lines": [change],
        },
    )
    # A delivered order stays delivered (less was placed than loaded: nothing more is coming); a
    # partially delivered one whose lines are now all delivered is delivered.
    fresh = list(OrderLine.objects.filter(order=order))
    if order.status == S.PARTIALLY_DELIVERED and all(i.delivered >= i.quantity - i.cancelled for i in fresh):
        order_transition(order, S.DELIVERED, actor=actor, data={"ticket": ticket})
    return event


def order_load_failed(*, order: Order, actor: Actor, ticket: str, loads_under_way: int) -> None:
    """A load of the order failed. With nothing else on its way, an order in delivery that has
    received something is partially delivered again (the failed quantity is open for planning)."""
    if loads_under_way or order.status != S.IN_DELIVERY:
        return
    if OrderLine.objects.filter(order=order, delivered__gt=0).exists():
        order_transition(order, S.PARTIALLY_DELIVERED, actor=actor, data={"ticket": ticket})
