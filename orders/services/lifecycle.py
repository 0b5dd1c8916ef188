"""Order lifecycle after placement: confirm, hold/release, reject, cancel, correct, call off.

Each function is one transaction that locks the order row first, then checks its
guards, changes, writes the timeline and the outbox. They are safe to retry: repeating a finished
action (confirming a confirmed order with the same ERP number, cancelling a cancelled one) changes
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.services import stock_allocate, stock_consume, stock_lock, stock_release
from oms.exceptions import CallOffExceedsRemaining, InvalidTransition, ValidationError
from oms.lib.actors import Actor
from orders.models import ZERO_QTY, CallOff, ErpSyncState, Order, OrderLine, OrderStatus
from orders.payloads import item_positions, money, order_cancelled, qty
from orders.ports import fulfilment
from orders.services.events import order_bump, order_event
from orders.services.placement import MAX_PRICE, is_quantity, round_money
from orders.state import RESUMABLE, erp_sync_state_move, order_transition

S = OrderStatus
REASON_REQUIRED = gettext_noop("A reason is required (at most 200 characters).")
NOT_ON_CALL = gettext_noop("Only on-call orders can be called off.")
CALL_OFF_TOO_MUCH = gettext_noop("The call-off exceeds the quantity not yet released.")
NO_CANCELLATION_REQUEST = "There is no cancellation request to reject."
CANCEL_AT_ONCE_FROM = frozenset({S.PLACED, S.ON_HOLD, S.CONFIRMED, S.SCHEDULED})
CORRECTABLE = frozenset({S.PLACED, S.ON_HOLD, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED})


def lock_order(order: Order) -> Order:
    """Re-read the order under a row lock, with what the services and payloads need."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("customer", "plant", "sales_point")
        .get(pk=order.pk)
    )


def _locked_lines(order: Order) -> list[OrderLine]:
    return list(OrderLine.objects.select_for_update().filter(order=order).order_by("position"))


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError(REASON_REQUIRED, errors={"reason": [REASON_REQUIRED]})
    return reason


@transaction.atomic
def order_confirm(*, order: Order, erp_order_number: str, actor: Actor) -> Order:
    """The ERP acknowledged the order: store its number; placed → confirmed.

    An order on hold stays on hold (the hold is the OMS's decision) but is confirmed when released.
    """
    order = lock_order(order)
    if order.status in (S.CANCELLED, S.REJECTED):
        raise InvalidTransition(f"A {order.status} order cannot be confirmed.")
    changed = []
    if erp_order_number and order.erp_order_number != erp_order_number:
        order.erp_order_number = erp_order_number
        changed.append("erp_order_number")
    if order.status == S.ON_HOLD and order.status_before == S.PLACED:
        # Without this the release would go back to `placed` and wait for an ack that already came.
        order.status_before = S.CONFIRMED
        changed.append("status_before")
    acknowledged = erp_sync_state_move(ErpSyncState.ACKNOWLEDGED, order=order)
    if changed or acknowledged:
        order_bump(order, *changed)
        order_event(order, "erp.acknowledged", actor=actor, data={"erp_order": order.erp_order_number})
    if order.status == S.PLACED:
        order_transition(order, S.CONFIRMED, actor=actor, event_type="order.confirmed")
    return order


@transaction.atomic
def order_hold(*, order: Order, reason: str, actor: Actor) -> Order:
    order = lock_order(order)
    reason = _reason(reason)
    if order.status == S.ON_HOLD:
        return order
    order_transition(order, S.ON_HOLD, actor=actor, data={"reason": reason}, event_type="order.held")
    return order


@transaction.atomic
def order_release(*, order: Order, actor: Actor) -> Order:
    order = lock_order(order)
    if order.status != S.ON_HOLD:
        raise InvalidTransition("Only an order on hold can be released.")
    back_to = order.status_before if order.status_before in (S.PLACED, S.CONFIRMED) else S.PLACED
    order_transition(order, back_to, actor=actor, event_type="order.released")
    return order


def _release_all(order: Order, lines: list[OrderLine]) -> None:
    stock_release(
        plant_id=order.plant_id, items=[(line.product_id, line.allocated) for line in lines if line.allocated]
    )
    for line in lines:
        line.cancelled = max(line.quantity - line.delivered, ZERO_QTY)
        line.allocated = ZERO_QTY
    OrderLine.objects.bulk_update(lines, ["cancelled", "allocated"])


@transaction.atomic
def order_reject(*, order: Order, reason: str, actor: Actor) -> Order:
    """The ERP refused the order: rejected, stock released."""
    order = lock_order(order)
    reason = _reason(reason)
    if order.status == S.REJECTED:
        return order
    lines = _locked_lines(order)
    order_transition(order, S.REJECTED, actor=actor, data={"reason": reason}, event_type="order.rejected")
    _release_all(order, lines)
    return order


def _cancel_now(
    order: Order, lines: list[OrderLine], reason: str, actor: Actor, returned: list[dict] | None = None
) -> None:
    """The one end of every cancellation: the order's loads cancelled (drivers told, off their
    tours), the order cancelled, its stock released, `order.cancelled` to the ERP."""
    fulfilment().loads_cancel(order=order, actor=actor, reason=reason)
    order_transition(order, S.CANCELLED, actor=actor, data={"reason": reason}, event_type="order.cancelled")
    _release_all(order, lines)
    order_event(
        order,
        "erp.cancel_sent",
        actor=actor,
        visible=False,
        data={"reason": reason},
        outbox_type="order.cancelled",
        outbox_payload=order_cancelled(order, reason, returned),
    )


@transaction.atomic
def order_cancel_request(*, order: Order, reason: str, actor: Actor) -> Order:
    """Customer/device cancellation (API `POST /orders/{number}/cancel/`).

    Before any load started: cancelled at once, stock released, `order.cancelled` to the ERP. After
    loading started: `cancellation_requested` (stock kept) until a rep decides. Cancelling a
    cancelled or cancellation-requested order returns it unchanged.
    """
    order = lock_order(order)
    reason = _reason(reason)
    if order.status in (S.CANCELLED, S.CANCELLATION_REQUESTED):
        return order
    if order.status not in CANCEL_AT_ONCE_FROM and order.status not in RESUMABLE:
        raise InvalidTransition(f"A {order.status} order cannot be cancelled.")
    lines = _locked_lines(order)
    if order.loading_started_at is None and order.status in CANCEL_AT_ONCE_FROM:
        _cancel_now(order, lines, reason, actor)
        return order
    order_transition(
        order,
        S.CANCELLATION_REQUESTED,
        actor=actor,
        data={"reason": reason},
        event_type="order.cancel_requested",
    )
    order_event(
        order,
        "erp.cancel_request_sent",
        actor=actor,
        visible=False,
        data={"reason": reason},
        outbox_type="order.cancel_requested",
        outbox_payload=order_cancelled(order, reason),
    )
    return order


@transaction.atomic
def order_cancel(
    *, order: Order, reason: str, actor: Actor, returned: dict[int, Decimal] | None = None
) -> Order:
    """A rep cancels (or approves a cancellation request), recording quantities that came back.

    Loaded goods that did not come back are consumed from stock; the rest of the allocation is
    released. `returned` maps line position → quantity returned to the plant.
    """
    order = lock_order(order)
    reason = _reason(reason)
    if order.status == S.CANCELLED:
        return order
    if order.status != S.CANCELLATION_REQUESTED and order.status not in CANCEL_AT_ONCE_FROM:
        raise InvalidTransition(f"A {order.status} order cannot be cancelled.")
    lines = _locked_lines(order)
    returned = returned or {}
    by_position = {line.position: line for line in lines}
    errors = {}
    for position, quantity in returned.items():
        line = by_position.get(position)
        in_truck = max(line.loaded - line.delivered, ZERO_QTY) if line else ZERO_QTY
        if line is None or not is_quantity(quantity, allow_zero=True) or quantity > in_truck:
            errors[str(position)] = [f"Returned quantity must be between 0 and {qty(in_truck)}."]
    if errors:
        raise ValidationError(errors={"returned": errors})
    lost = []
    for line in lines:
        in_truck = max(line.loaded - line.delivered, ZERO_QTY)
        back = returned.get(line.position, ZERO_QTY)
        if line.stocked and in_truck - back > 0:
            # Left the plant and not coming back: it leaves stock as if delivered.
            lost.append((line.product_id, in_truck - back))
            line.allocated = max(line.allocated - (in_truck - back), ZERO_QTY)
        line.returned += back
    stock_lock(plant_id=order.plant_id, product_ids=[line.product_id for line in lines if line.stocked])
    stock_consume(plant_id=order.plant_id, items=lost)
    OrderLine.objects.bulk_update(lines, ["returned", "allocated"])
    returned_payload = [{"position": pos, "quantity": qty(q)} for pos, q in sorted(returned.items()) if q > 0]
    _cancel_now(order, lines, reason, actor, returned_payload)
    return order


@transaction.atomic
def order_cancel_by_erp(*, order: Order, reason: str, actor: Actor) -> Order:
    """The ERP orders the cancellation (`task.cancellation` without a ticket). It needs no rep while no
    load of the order is on the road: loads still at the plant are cancelled and what they carried
    counts as back at the plant. With a load on the road the order waits in `cancellation_requested`
    for a rep (or the ERP's `order.cancel_decision`), who knows what came back."""
    order = order_cancel_request(order=order, reason=reason, actor=actor)
    if order.status != S.CANCELLATION_REQUESTED or fulfilment().loads_on_the_road(order=order):
        return order
    in_truck = {
        line.position: max(line.loaded - line.delivered, ZERO_QTY)
        for line in OrderLine.objects.filter(order=order)
    }
    return order_cancel(
        order=order, reason=reason, actor=actor, returned={p: q for p, q in in_truck.items() if q > 0}
    )


@transaction.atomic
def order_cancel_decide(
    *, order: Order, accepted: bool, reason: str, actor: Actor, returned: dict[int, Decimal] | None = None
) -> Order:
    """Decide a pending cancellation request (a rep, or the ERP's `order.cancel_decision`)."""
    order = lock_order(order)
    if order.status != S.CANCELLATION_REQUESTED:
        raise InvalidTransition(
            NO_CANCELLATION_REQUEST,
            extra={"from": order.status, "to": S.CANCELLED if accepted else "resumed"},
        )
    if accepted:
        return order_cancel(order=order, reason=reason, actor=actor, returned=returned)
    return order_cancel_reject(order=order, reason=reason, actor=actor)


@transaction.atomic
def order_cancel_reject(*, order: Order, reason: str, actor: Actor) -> Order:
    """A rep or the ERP refuses a cancellation request: back to where the order was."""
    order = lock_order(order)
    reason = _reason(reason)
    if order.status != S.CANCELLATION_REQUESTED:
        raise InvalidTransition(NO_CANCELLATION_REQUEST)
    back_to = order.status_before if order.status_before in RESUMABLE else S.CONFIRMED
    order_transition(order, back_to, actor=actor, data={"reason": reason}, event_type="order.cancel_rejected")
    return order


@dataclass(frozen=True)
class Correction:
    position: int
    field: str  # "quantity" or "unit_price"
    new: Decimal
    reason: str


@transaction.atomic
def order_correct(*, order: Order, corrections: list[Correction], actor: Actor) -> Order:
    """Correct line quantities or prices with a reason: stock, totals, event and `order.correction`."""
    order = lock_order(order)
    if order.status not in CORRECTABLE:
        raise InvalidTransition(f"A {order.status} order cannot be corrected.")
    if not corrections:
        raise ValidationError(errors={"lines": ["Give at least one correction."]})
    lines = _locked_lines(order)
    by_position = {line.position: line for line in lines}
    errors: dict[str, list[str]] = {}
    for c in corrections:
        line = by_position.get(c.position)
        key = str(c.position)
        if line is None:
            errors[key] = ["No such line."]
        elif c.field not in ("quantity", "unit_price"):
            errors[key] = ["Only quantity and unit_price can be corrected."]
        elif not (c.reason or "").strip() or len(c.reason) > 200:
            errors[key] = [REASON_REQUIRED]
        elif c.field == "quantity" and (not is_quantity(c.new) or c.new < max(line.loaded, line.delivered)):
            errors[key] = [f"Quantity must be above 0 and at least {qty(max(line.loaded, line.delivered))}."]
        elif c.field == "unit_price" and (
            not c.new.is_finite()
            or c.new < 0
            or c.new >= MAX_PRICE
            or c.new != c.new.quantize(Decimal("0.01"))
        ):
            errors[key] = ["Unit price must be a non-negative amount with at most 2 decimals."]
    if errors:
        raise ValidationError(errors={"lines": errors})
    more, less, changes = [], [], []
    for c in corrections:
        line = by_position[c.position]
        old = getattr(line, c.field)
        if old == c.new:
            continue
        if c.field == "quantity" and line.stocked:
            diff = c.new - line.quantity
            (more if diff > 0 else less).append((line.product_id, abs(diff)))
            line.allocated = max(line.allocated + diff, ZERO_QTY)
        setattr(line, c.field, c.new)
        line.net = round_money(line.quantity * line.unit_price)
        line.tax = round_money(line.net * line.vat_rate / 100)
        fmt = qty if c.field == "quantity" else money
        changes.append(
            {"position": c.position, "field": c.field, "old": fmt(old), "new": fmt(c.new), "reason": c.reason}
        )
    if not changes:
        return order
    stock_lock(plant_id=order.plant_id, product_ids=[product_id for product_id, _ in more + less])
    stock_allocate(plant_id=order.plant_id, items=more, skus={line.product_id: line.sku for line in lines})
    stock_release(plant_id=order.plant_id, items=less)
    OrderLine.objects.bulk_update(lines, ["quantity", "unit_price", "allocated", "net", "tax"])
    order.net_total = sum((line.net for line in lines), Decimal("0.00"))
    order.tax_total = sum((line.tax for line in lines), Decimal("0.00"))
    order.gross_total = order.net_total + order.tax_total
    order_bump(order, "net_total", "tax_total", "gross_total")
    order_event(
        order,
        "order.corrected",
        actor=actor,
        data={"lines": changes},
        outbox_type="order.correction",
        outbox_payload={"order": order.number, "erp_order": order.erp_order_number or None, "lines": changes},
    )
    return order


@transaction.atomic
def order_call_off(
    *,
    order: Order,
    actor: Actor,
    lines: dict[int, Decimal] | None = None,
    wanted_at: datetime | None = None,
    note: str = "",
    phone: str = "",
) -> CallOff:
    """Release the next load(s) of an on-call order. `lines`: position → quantity (default: one truck's
    worth is decided by dispatch; here the whole remaining quantity of each line)."""
    order = lock_order(order)
    if not order.on_call:
        raise InvalidTransition(NOT_ON_CALL)
    if order.status not in (S.PLACED, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED):
        raise InvalidTransition(f"A {order.status} order cannot be called off.")
    if len(note or "") > 200:
        raise ValidationError(errors={"note": ["Ensure this field has no more than 200 characters."]})
    order_lines = _locked_lines(order)
    by_position = {line.position: line for line in order_lines}
    wanted = (
        lines
        if lines is not None
        else {
            line.position: line.quantity - line.released
            for line in order_lines
            if line.quantity > line.released
        }
    )
    errors = {}
    too_much = {}
    for position, quantity in wanted.items():
        line = by_position.get(position)
        if line is None or not is_quantity(quantity):
            errors[str(position)] = ["Give a positive quantity of an existing line."]
        elif line.released + quantity > line.quantity - line.cancelled:
            too_much[str(position)] = [CALL_OFF_TOO_MUCH]
    if errors:
        raise ValidationError(CALL_OFF_TOO_MUCH, errors={"lines": {**too_much, **errors}})
    if too_much or not wanted:
        raise CallOffExceedsRemaining(
            CALL_OFF_TOO_MUCH,
            errors={"lines": too_much or {"": [CALL_OFF_TOO_MUCH]}},
            extra={"remaining": call_off_remaining(order_lines)},
        )
    for position, quantity in wanted.items():
        by_position[position].released += quantity
    OrderLine.objects.bulk_update(order_lines, ["released"])
    now = timezone.now()
    call_off = CallOff.objects.create(
        order=order,
        requested_at=now,
        wanted_at=wanted_at,
        requested_by=actor.name,
        note=note or "",
        lines=[{"position": p, "quantity": qty(q)} for p, q in sorted(wanted.items())],
    )
    order_bump(order)
    order_event(
        order,
        "order.call_off",
        actor=actor,
        data={
            "call_off": call_off.pk,
            "lines": call_off.lines,
            "wanted_at": wanted_at.isoformat() if wanted_at else None,
        },
        outbox_type="call.request",
        outbox_payload={
            "id": f"calloff-{call_off.pk}",
            "order": order.number,
            "job": None,
            "kind": "call_off",
            "reason": note or "Call-off",
            "phone": phone,
            "status": "open",
            "lines": call_off.lines,
        },
    )
    return call_off


def call_off_remaining(lines: list[OrderLine]) -> list[dict]:
    """Per line position, what an on-call order has left to call off."""
    return [
        {
            "position": line.position,
            "remaining": qty(max(line.quantity - line.cancelled - line.released, ZERO_QTY)),
        }
        for line in sorted(lines, key=lambda line: line.position)
    ]


PACEABLE = frozenset({S.PLACED, S.CONFIRMED, S.SCHEDULED, S.IN_DELIVERY, S.PARTIALLY_DELIVERED})
ALREADY_PAUSED = gettext_noop("The remaining loads are already paused.")
NOT_PAUSED = gettext_noop("The remaining loads are not paused.")
SPACING_INVALID = gettext_noop("Give the minutes between loads (0 to 600).")


def _pacing_event(order: Order, type_: str, *, actor: Actor, data: dict) -> None:
    order_bump(order, "loads_paused", "load_spacing_minutes")
    order_event(
        order,
        type_,
        actor=actor,
        data=data,
        outbox_type="order.pacing",
        outbox_payload={
            "order": order.number,
            "erp_order": order.erp_order_number or None,
            "paused": order.loads_paused,
            "spacing_minutes": order.load_spacing_minutes,
            "reason": data.get("reason", ""),
        },
    )


def _check_spacing(spacing_minutes: int | None) -> None:
    if spacing_minutes is not None and not (0 <= spacing_minutes <= 600):
        raise ValidationError(SPACING_INVALID, errors={"spacing_minutes": [SPACING_INVALID]})


@transaction.atomic
def order_loads_pause(*, order: Order, actor: Actor, reason: str = "") -> Order:
    """Hold the loads not yet planned (a pour stops: rain, the pump, the site). Dispatch plans none
    of them until they are resumed; loads already on a tour are not touched."""
    order = lock_order(order)
    if order.fulfilment != "delivery" or order.status not in PACEABLE:
        raise InvalidTransition(f"The loads of a {order.status} order cannot be paused.")
    if order.loads_paused:
        raise InvalidTransition(ALREADY_PAUSED)
    order.loads_paused = True
    _pacing_event(order, "order.loads_paused", actor=actor, data={"reason": (reason or "")[:200]})
    return order


@transaction.atomic
def order_loads_resume(*, order: Order, actor: Actor, spacing_minutes: int | None = None) -> Order:
    """Release paused loads again, optionally with a new spacing between loads."""
    _check_spacing(spacing_minutes)
    order = lock_order(order)
    if not order.loads_paused:
        raise InvalidTransition(NOT_PAUSED)
    order.loads_paused = False
    if spacing_minutes is not None:
        order.load_spacing_minutes = spacing_minutes or None
    _pacing_event(
        order, "order.loads_resumed", actor=actor, data={"spacing_minutes": order.load_spacing_minutes}
    )
    return order


@transaction.atomic
def order_load_spacing_set(*, order: Order, actor: Actor, spacing_minutes: int | None) -> Order:
    """Minutes between the planned times of successive loads (none: as dispatch sees fit)."""
    _check_spacing(spacing_minutes)
    order = lock_order(order)
    if order.fulfilment != "delivery" or order.status not in PACEABLE:
        raise InvalidTransition(f"The loads of a {order.status} order cannot be paced.")
    order.load_spacing_minutes = spacing_minutes or None
    _pacing_event(
        order, "order.load_spacing", actor=actor, data={"spacing_minutes": order.load_spacing_minutes}
    )
    return order


def order_item_positions_message(
    order: Order, *, actor: Actor, lines: list[OrderLine] | None = None, system=None
) -> None:
    """Queue `item.positions` (line quantities) for the ERP (`system`, else the order's route); call
    inside the caller's transaction."""
    order_event(
        order,
        "erp.item_positions",
        actor=actor,
        visible=False,
        outbox_type="item.positions",
        outbox_payload=item_positions(order, lines),
        system=system,
    )
