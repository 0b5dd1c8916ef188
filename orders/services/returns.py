"""Returns: requested → approved / rejected → pickup scheduled → received → closed."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.services import stock_restock
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from oms.lib.sequences import next_value
from orders.models import ZERO_QTY, OrderLine, OrderStatus, ReturnLine, ReturnRequest, ReturnStatus
from orders.payloads import qty
from orders.services.events import order_event
from orders.services.lifecycle import _locked_lines, _reason, lock_order, order_item_positions_message
from orders.services.placement import is_quantity
from orders.state import RETURN_TRANSITIONS

RETURNABLE_ORDER = frozenset({OrderStatus.PARTIALLY_DELIVERED, OrderStatus.DELIVERED, OrderStatus.COMPLETED})
RETURN_TOO_MUCH = gettext_noop(
    "You can return at most the delivered quantity not already returned or requested."
)


def _lock_return(ret: ReturnRequest) -> ReturnRequest:
    return ReturnRequest.objects.select_for_update().select_related("order").get(pk=ret.pk)


def _move(ret: ReturnRequest, to: str, *, actor: Actor, note: str = "") -> None:
    RETURN_TRANSITIONS.check(ret.status, to)
    before = ret.status
    ret.status = to
    ret.updated_at = timezone.now()
    if note:
        ret.decision_note = note
    ret.save(update_fields=["status", "updated_at", "decision_note"])
    order_event(
        ret.order, f"return.{to}", actor=actor, data={"return": ret.number, "from": before, "note": note}
    )


@transaction.atomic
def return_request(*, order, lines: dict[int, Decimal], reason: str, actor: Actor) -> ReturnRequest:
    """Ask to return delivered goods (position → quantity)."""
    order = lock_order(order)
    reason = _reason(reason)
    if order.status not in RETURNABLE_ORDER:
        raise InvalidTransition(f"Goods of a {order.status} order cannot be returned.")
    order_lines = {line.position: line for line in _locked_lines(order)}
    pending = dict(
        ReturnLine.objects.filter(
            return_request__order=order,
            return_request__status__in=[
                ReturnStatus.REQUESTED,
                ReturnStatus.APPROVED,
                ReturnStatus.PICKUP_SCHEDULED,
            ],
        )
        .values("order_line__position")
        .annotate(total=Sum("quantity"))
        .values_list("order_line__position", "total")
    )
    errors = {}
    for position, quantity in lines.items():
        line = order_lines.get(position)
        if line is None or not is_quantity(quantity):
            errors[str(position)] = ["Give a positive quantity of an existing line."]
        elif quantity > line.delivered - line.returned - pending.get(position, ZERO_QTY):
            errors[str(position)] = [RETURN_TOO_MUCH]
    if errors or not lines:
        raise ValidationError(RETURN_TOO_MUCH, errors={"lines": errors or {"": ["Give at least one line."]}})
    now = timezone.now()
    ret = ReturnRequest.objects.create(
        number=f"RET-{now.year}-{next_value('return_number'):06d}",
        order=order,
        reason=reason,
        requested_by=actor.name,
        created_at=now,
        updated_at=now,
    )
    ReturnLine.objects.bulk_create(
        [
            ReturnLine(return_request=ret, order_line=order_lines[p], quantity=q)
            for p, q in sorted(lines.items())
        ]
    )
    payload_lines = [{"position": p, "quantity": qty(q)} for p, q in sorted(lines.items())]
    order_event(
        order,
        "return.requested",
        actor=actor,
        data={"return": ret.number, "lines": payload_lines, "reason": reason},
        outbox_type="return.requested",
        outbox_payload={
            "order": order.number,
            "return": ret.number,
            "lines": payload_lines,
            "reason": reason,
        },
    )
    return ret


@transaction.atomic
def return_request_approved(*, order, lines: dict[int, Decimal], reason: str, actor: Actor) -> ReturnRequest:
    """A return the ERP (or a rep on the phone) already agreed: requested and approved at once."""
    ret = return_request(order=order, lines=lines, reason=reason, actor=actor)
    return return_approve(ret=ret, actor=actor)


@transaction.atomic
def return_approve(*, ret: ReturnRequest, actor: Actor, note: str = "") -> ReturnRequest:
    ret = _lock_return(ret)
    _move(ret, ReturnStatus.APPROVED, actor=actor, note=note)
    return ret


@transaction.atomic
def return_reject(*, ret: ReturnRequest, actor: Actor, note: str) -> ReturnRequest:
    ret = _lock_return(ret)
    _move(ret, ReturnStatus.REJECTED, actor=actor, note=_reason(note))
    return ret


@transaction.atomic
def return_schedule_pickup(*, ret: ReturnRequest, actor: Actor) -> ReturnRequest:
    ret = _lock_return(ret)
    _move(ret, ReturnStatus.PICKUP_SCHEDULED, actor=actor)
    return ret


@transaction.atomic
def return_receive(
    *,
    ret: ReturnRequest,
    actor: Actor,
    received: dict[int, Decimal] | None = None,
    ticket: str | None = None,
) -> ReturnRequest:
    """Goods are back (collected by the pickup `ticket`, or brought in): line `returned` quantities
    grow, stocked goods go back on hand, `item.positions` and `return.received` to the ERP."""
    ret = _lock_return(ret)
    order = lock_order(ret.order)
    ret.order = order
    return_lines = list(ret.lines.select_related("order_line").order_by("pk"))
    errors = {}
    for rl in return_lines:
        got = (received or {}).get(rl.order_line.position, rl.quantity)
        if got < 0 or got > rl.quantity:
            errors[str(rl.order_line.position)] = [f"Received must be between 0 and {qty(rl.quantity)}."]
        rl.received = got
    if errors:
        raise ValidationError(errors={"received": errors})
    _move(ret, ReturnStatus.RECEIVED, actor=actor)
    ReturnLine.objects.bulk_update(return_lines, ["received"])
    order_lines = {line.pk: line for line in _locked_lines(order)}
    restock = []
    for rl in return_lines:
        line = order_lines[rl.order_line_id]
        line.returned += rl.received
        if line.stocked and rl.received > 0:
            restock.append((line.product_id, rl.received))
    OrderLine.objects.bulk_update(list(order_lines.values()), ["returned"])
    stock_restock(plant_id=order.plant_id, items=restock)
    order_item_positions_message(order, actor=actor, lines=list(order_lines.values()))
    payload_lines = [
        {"position": rl.order_line.position, "quantity": qty(rl.quantity), "received": qty(rl.received)}
        for rl in sorted(return_lines, key=lambda rl: rl.order_line.position)
    ]
    order_event(
        order,
        "return.goods_received",
        actor=actor,
        data={"return": ret.number, "ticket": ticket, "lines": payload_lines},
        outbox_type="return.received",
        outbox_payload={
            "order": order.number,
            "return": ret.number,
            "ticket": ticket,
            "lines": payload_lines,
        },
    )
    return ret


@transaction.atomic
def return_close(*, ret: ReturnRequest, actor: Actor) -> ReturnRequest:
    ret = _lock_return(ret)
    _move(ret, ReturnStatus.CLOSED, actor=actor)
    return ret
