"""Order lifecycle after placement: the exact timeline and outbox rows of every service, and none on failure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from oms import outbox as outbox_module
from oms.exceptions import InsufficientStock, InvalidTransition, ValidationError
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import CallOff, ErpSyncState, Order, OrderEvent, OrderLine, OrderStatus
from orders.services.lifecycle import (
    CALL_OFF_TOO_MUCH,
    NOT_ON_CALL,
    REASON_REQUIRED,
    Correction,
    order_call_off,
    order_cancel,
    order_cancel_reject,
    order_cancel_request,
    order_confirm,
    order_correct,
    order_hold,
    order_reject,
    order_release,
)
from tests.orders.helpers import events, outbox, stock

pytestmark = pytest.mark.django_db
S = OrderStatus
ERP = Actor(kind="erp", name="SAP1", channel="erp")
REP = Actor(kind="user", name="maria", channel="phone")
CUSTOMER = Actor(kind="customer", name="ivan@example.com", channel="web")
PLACED = ("order.placed", {"channel": "web", "lines": 2, "gross": "144.00"})


@pytest.fixture
def sand(stocked):
    return stocked("100", sku="SAND", unit_price=Decimal("10.00"))


@pytest.fixture
def gravel(stocked):
    return stocked("50", sku="GRAVEL", unit_price=Decimal("1.00"))


@pytest.fixture
def order(place, sand, gravel):
    """Placed web order: 10 t sand at 10.00 and 20 t gravel at 1.00 → net 120.00, tax 24.00."""
    return place({sand: "10", gravel: "20"})


def reload(order) -> Order:
    return Order.objects.get(pk=order.pk)


def set_status(order, status, **fields) -> Order:
    Order.objects.filter(pk=order.pk).update(status=status, **fields)
    return reload(order)


def lines(order) -> list[tuple]:
    return list(
        OrderLine.objects.filter(order=order)
        .order_by("position")
        .values_list("position", "quantity", "allocated", "cancelled", "returned")
    )


def snapshot(order):
    """Everything a refused action must leave untouched."""
    fresh = reload(order)
    return (
        fresh.status,
        fresh.version,
        fresh.status_before,
        fresh.net_total,
        lines(order),
        events(order),
        outbox(order),
        list(CallOff.objects.filter(order=order).values_list("pk", flat=True)),
    )


def created_message(order) -> tuple[str, int]:
    return outbox(order)[0][:2]


# --- confirm ---------------------------------------------------------------------------------


def test_confirm_stores_the_erp_number_and_confirms(order):
    confirmed = order_confirm(order=order, erp_order_number="4500000001", actor=ERP)

    fresh = reload(order)
    assert (fresh.status, fresh.erp_order_number, fresh.erp_sync_state, fresh.version) == (
        "confirmed",
        "4500000001",
        ErpSyncState.ACKNOWLEDGED,
        3,
    )
    assert confirmed.status == "confirmed"
    assert events(order) == [
        PLACED,
        ("erp.acknowledged", {"erp_order": "4500000001"}),
        ("order.confirmed", {"from": "placed", "to": "confirmed"}),
    ]
    assert [(e.actor_kind, e.actor, e.channel) for e in OrderEvent.objects.filter(order=order)[1:]] == [
        ("erp", "SAP1", "erp"),
        ("erp", "SAP1", "erp"),
    ]
    assert [created_message(order)] == [(t, s) for t, s, _ in outbox(order)] == [("order.created", 1)]


def test_confirm_is_idempotent(order):
    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)
    before = snapshot(order)

    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)

    assert snapshot(order) == before


def test_confirm_of_a_cancelled_order_is_refused(order):
    order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_confirm(order=order, erp_order_number="4500000001", actor=ERP)

    assert raised.value.detail == "A cancelled order cannot be confirmed."
    assert snapshot(order) == before


def test_an_acknowledgement_during_a_hold_keeps_the_hold_and_confirms_on_release(order):
    order_hold(order=order, reason="Credit check", actor=REP)

    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)
    held = reload(order)
    order_release(order=order, actor=REP)

    assert (held.status, held.status_before, held.erp_order_number) == ("on_hold", "confirmed", "4500000001")
    assert reload(order).status == "confirmed"
    assert events(order)[1:] == [
        ("order.held", {"from": "placed", "to": "on_hold", "reason": "Credit check"}),
        ("erp.acknowledged", {"erp_order": "4500000001"}),
        ("order.released", {"from": "on_hold", "to": "confirmed"}),
    ]


# --- hold / release -------------------------------------------------------------------------------


def test_hold_and_release_return_to_the_status_before(order):
    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)

    order_hold(order=order, reason="  Credit check ", actor=REP)
    held = reload(order)
    order_hold(order=order, reason="Again", actor=REP)  # already held: nothing changes
    order_release(order=order, actor=REP)

    assert (held.status, held.status_before, held.version) == ("on_hold", "confirmed", 4)
    fresh = reload(order)
    assert (fresh.status, fresh.version) == ("confirmed", 5)
    assert events(order)[3:] == [
        ("order.held", {"from": "confirmed", "to": "on_hold", "reason": "Credit check"}),
        ("order.released", {"from": "on_hold", "to": "confirmed"}),
    ]
    assert [(t, s) for t, s, _ in outbox(order)] == [("order.created", 1)]
    # A hold is about money: the goods stay allocated.
    assert [row[2] for row in lines(order)] == [Decimal("10.000"), Decimal("20.000")]


def test_hold_needs_a_reason(order):
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_hold(order=order, reason="   ", actor=REP)

    assert raised.value.errors == {"reason": [REASON_REQUIRED]}
    assert snapshot(order) == before


def test_hold_of_a_scheduled_order_is_refused(order):
    order = set_status(order, S.SCHEDULED)
    before = snapshot(order)

    with pytest.raises(InvalidTransition):
        order_hold(order=order, reason="Credit check", actor=REP)

    assert snapshot(order) == before


def test_release_of_an_order_not_on_hold_is_refused(order):
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_release(order=order, actor=REP)

    assert raised.value.detail == "Only an order on hold can be released."
    assert snapshot(order) == before


# --- reject ---------------------------------------------------------------------------------------


def test_reject_releases_the_stock(order, plant, sand, gravel):
    order_reject(order=order, reason="Unknown customer in ERP", actor=ERP)
    order_reject(order=order, reason="Again", actor=ERP)  # repeated: unchanged

    fresh = reload(order)
    assert (fresh.status, fresh.version) == ("rejected", 2)
    assert lines(order) == [
        (1, Decimal("10.000"), Decimal("0.000"), Decimal("10.000"), Decimal("0.000")),
        (2, Decimal("20.000"), Decimal("0.000"), Decimal("20.000"), Decimal("0.000")),
    ]
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("0.000"))
    assert stock(plant, gravel) == (Decimal("50.000"), Decimal("0.000"))
    assert events(order) == [
        PLACED,
        ("order.rejected", {"from": "placed", "to": "rejected", "reason": "Unknown customer in ERP"}),
    ]
    assert [(t, s) for t, s, _ in outbox(order)] == [("order.created", 1)]


def test_reject_of_a_confirmed_order_is_refused(order, plant, sand):
    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)
    before = snapshot(order)

    with pytest.raises(InvalidTransition):
        order_reject(order=order, reason="Too late", actor=ERP)

    assert snapshot(order) == before
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))


# --- cancellation by the customer ------------------------------------------------------------------


def test_cancel_before_loading_cancels_at_once_and_releases_stock(order, plant, sand, gravel):
    order = set_status(order, S.SCHEDULED)

    order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)

    fresh = reload(order)
    assert (fresh.status, fresh.version, fresh.erp_sync_state) == ("cancelled", 2, ErpSyncState.PENDING)
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("0.000"))
    assert stock(plant, gravel) == (Decimal("50.000"), Decimal("0.000"))
    assert lines(order) == [
        (1, Decimal("10.000"), Decimal("0.000"), Decimal("10.000"), Decimal("0.000")),
        (2, Decimal("20.000"), Decimal("0.000"), Decimal("20.000"), Decimal("0.000")),
    ]
    assert events(order) == [
        PLACED,
        ("order.cancelled", {"from": "scheduled", "to": "cancelled", "reason": "Changed my mind"}),
        ("erp.cancel_sent", {"reason": "Changed my mind"}),
    ]
    sent = OrderEvent.objects.get(order=order, type="erp.cancel_sent")
    assert (sent.visible_to_customer, sent.outbox_message.type) == (False, "order.cancelled")
    assert outbox(order)[1:] == [
        (
            "order.cancelled",
            2,
            {"order": order.number, "erp_order": None, "reason": "Changed my mind", "returned": []},
        )
    ]
    assert OutboxMessage.objects.get(type="order.cancelled").version == 2


def test_cancel_after_loading_needs_approval(order, plant, sand):
    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)
    order = set_status(order, S.IN_DELIVERY, loading_started_at=timezone.now())

    order_cancel_request(order=order, reason="Site flooded", actor=CUSTOMER)

    fresh = reload(order)
    assert (fresh.status, fresh.status_before, fresh.version) == ("cancellation_requested", "in_delivery", 4)
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))
    assert events(order)[3:] == [
        (
            "order.cancel_requested",
            {"from": "in_delivery", "to": "cancellation_requested", "reason": "Site flooded"},
        ),
        ("erp.cancel_request_sent", {"reason": "Site flooded"}),
    ]
    assert outbox(order)[1:] == [
        (
            "order.cancel_requested",
            2,
            {"order": order.number, "erp_order": "4500000001", "reason": "Site flooded", "returned": []},
        )
    ]


def test_cancel_of_a_confirmed_order_whose_loading_started_needs_approval(order):
    order = set_status(order, S.CONFIRMED, loading_started_at=timezone.now())

    order_cancel_request(order=order, reason="Site flooded", actor=CUSTOMER)

    assert reload(order).status == "cancellation_requested"
    assert [t for t, _, _ in outbox(order)] == ["order.created", "order.cancel_requested"]


@pytest.mark.parametrize("first_ends_in", ["cancelled", "cancellation_requested"])
def test_repeated_cancel_request_changes_nothing(order, first_ends_in):
    if first_ends_in == "cancellation_requested":
        set_status(order, S.CONFIRMED, loading_started_at=timezone.now())
    order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)
    before = snapshot(order)

    again = order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)

    assert again.status == first_ends_in
    assert snapshot(order) == before


@pytest.mark.parametrize("status", [S.DELIVERED, S.COMPLETED, S.REJECTED])
def test_cancel_request_of_a_finished_order_is_refused(order, plant, sand, status):
    order = set_status(order, status)
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_cancel_request(order=order, reason="Too late", actor=CUSTOMER)

    assert raised.value.detail == f"A {status} order cannot be cancelled."
    assert snapshot(order) == before
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))


def test_cancel_request_needs_a_reason(order):
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_cancel_request(order=order, reason="x" * 201, actor=CUSTOMER)

    assert raised.value.errors == {"reason": [REASON_REQUIRED]}
    assert snapshot(order) == before


def test_cancel_nudges_the_relay_only_after_commit(order, monkeypatch, django_capture_on_commit_callbacks):
    nudges = []
    monkeypatch.setattr(outbox_module, "_nudge_relay", lambda: nudges.append("nudge"))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)
        assert nudges == []

    assert (len(callbacks), nudges) == (1, ["nudge"])


# --- cancellation decided by a rep -------------------------------------------------------------------


def loaded(order, position, quantity):
    OrderLine.objects.filter(order=order, position=position).update(loaded=Decimal(quantity))


def test_rep_approves_a_cancellation_with_returned_quantities(order, plant, sand, gravel):
    order = set_status(order, S.IN_DELIVERY, loading_started_at=timezone.now())
    loaded(order, 1, "8")
    order_cancel_request(order=order, reason="Site flooded", actor=CUSTOMER)

    order_cancel(order=order, reason="Approved", actor=REP, returned={1: Decimal("3")})

    fresh = reload(order)
    assert (fresh.status, fresh.version) == ("cancelled", 3)
    # 8 t left the plant and 3 t came back: the 5 t lost leave stock as if delivered; the rest is freed.
    assert stock(plant, sand) == (Decimal("95.000"), Decimal("0.000"))
    assert stock(plant, gravel) == (Decimal("50.000"), Decimal("0.000"))
    assert lines(order) == [
        (1, Decimal("10.000"), Decimal("0.000"), Decimal("10.000"), Decimal("3.000")),
        (2, Decimal("20.000"), Decimal("0.000"), Decimal("20.000"), Decimal("0.000")),
    ]
    assert events(order)[3:] == [
        ("order.cancelled", {"from": "cancellation_requested", "to": "cancelled", "reason": "Approved"}),
        ("erp.cancel_sent", {"reason": "Approved"}),
    ]
    assert [(t, s) for t, s, _ in outbox(order)] == [
        ("order.created", 1),
        ("order.cancel_requested", 2),
        ("order.cancelled", 3),
    ]
    assert outbox(order)[2][2] == {
        "order": order.number,
        "erp_order": None,
        "reason": "Approved",
        "returned": [{"position": 1, "quantity": "3.000"}],
    }


def test_rep_cancel_with_nothing_returned_consumes_everything_loaded(order, plant, sand):
    order = set_status(order, S.CANCELLATION_REQUESTED, status_before=S.IN_DELIVERY)
    loaded(order, 1, "8")

    order_cancel(order=order, reason="Approved", actor=REP)

    assert stock(plant, sand) == (Decimal("92.000"), Decimal("0.000"))
    assert outbox(order)[-1][2]["returned"] == []


def test_rep_cancel_refuses_returning_more_than_was_in_the_truck(order, plant, sand):
    order = set_status(order, S.CANCELLATION_REQUESTED, status_before=S.IN_DELIVERY)
    loaded(order, 1, "8")
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_cancel(order=order, reason="Approved", actor=REP, returned={1: Decimal("9"), 7: Decimal("1")})

    assert raised.value.errors == {
        "returned": {
            "1": ["Returned quantity must be between 0 and 8.000."],
            "7": ["Returned quantity must be between 0 and 0.000."],
        }
    }
    assert snapshot(order) == before
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))


def test_rep_cancel_of_an_order_in_delivery_without_request_is_refused(order):
    order = set_status(order, S.IN_DELIVERY)
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_cancel(order=order, reason="Approved", actor=REP)

    assert raised.value.detail == "A in_delivery order cannot be cancelled."
    assert snapshot(order) == before


def test_rep_rejects_a_cancellation_request(order, plant, sand):
    order = set_status(order, S.IN_DELIVERY, loading_started_at=timezone.now())
    order_cancel_request(order=order, reason="Site flooded", actor=CUSTOMER)

    order_cancel_reject(order=order, reason="Already poured", actor=REP)

    fresh = reload(order)
    assert (fresh.status, fresh.version) == ("in_delivery", 3)
    assert events(order)[-1] == (
        "order.cancel_rejected",
        {"from": "cancellation_requested", "to": "in_delivery", "reason": "Already poured"},
    )
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))
    assert [t for t, _, _ in outbox(order)] == ["order.created", "order.cancel_requested"]


def test_rejecting_without_a_cancellation_request_is_refused(order):
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_cancel_reject(order=order, reason="No", actor=REP)

    assert raised.value.detail == "There is no cancellation request to reject."
    assert snapshot(order) == before


# --- corrections -------------------------------------------------------------------------------------


def test_correcting_a_quantity_up_allocates_more_and_recomputes_totals(order, plant, sand):
    order_confirm(order=order, erp_order_number="4500000001", actor=ERP)

    order_correct(
        order=order,
        corrections=[Correction(position=1, field="quantity", new=Decimal("12.5"), reason="Customer call")],
        actor=REP,
    )

    fresh = reload(order)
    assert (fresh.net_total, fresh.tax_total, fresh.gross_total, fresh.version) == (
        Decimal("145.00"),
        Decimal("29.00"),
        Decimal("174.00"),
        4,
    )
    assert lines(order)[0] == (1, Decimal("12.500"), Decimal("12.500"), Decimal("0.000"), Decimal("0.000"))
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("12.500"))
    change = {"position": 1, "field": "quantity", "old": "10.000", "new": "12.500", "reason": "Customer call"}
    assert events(order)[-1] == ("order.corrected", {"lines": [change]})
    assert outbox(order)[1:] == [
        ("order.correction", 2, {"order": order.number, "erp_order": "4500000001", "lines": [change]})
    ]


def test_correcting_quantity_down_and_price_rounds_half_up(order, plant, sand, gravel):
    order_correct(
        order=order,
        corrections=[
            Correction(position=1, field="quantity", new=Decimal("7"), reason="Less needed"),
            Correction(position=2, field="quantity", new=Decimal("1.5"), reason="Less needed"),
            Correction(position=2, field="unit_price", new=Decimal("0.35"), reason="Discount"),
        ],
        actor=REP,
    )

    # 7 × 10.00 = 70.00 (tax 14.00); 1.5 × 0.35 = 0.525 → 0.53 (tax 0.106 → 0.11).
    assert list(OrderLine.objects.filter(order=order).values_list("unit_price", "net", "tax")) == [
        (Decimal("10.00"), Decimal("70.00"), Decimal("14.00")),
        (Decimal("0.35"), Decimal("0.53"), Decimal("0.11")),
    ]
    fresh = reload(order)
    assert (fresh.net_total, fresh.tax_total, fresh.gross_total) == (
        Decimal("70.53"),
        Decimal("14.11"),
        Decimal("84.64"),
    )
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("7.000"))
    assert stock(plant, gravel) == (Decimal("50.000"), Decimal("1.500"))
    assert outbox(order)[1][2]["lines"] == [
        {"position": 1, "field": "quantity", "old": "10.000", "new": "7.000", "reason": "Less needed"},
        {"position": 2, "field": "quantity", "old": "20.000", "new": "1.500", "reason": "Less needed"},
        {"position": 2, "field": "unit_price", "old": "1.00", "new": "0.35", "reason": "Discount"},
    ]


def test_a_correction_to_the_same_values_writes_nothing(order):
    before = snapshot(order)

    order_correct(
        order=order,
        corrections=[Correction(position=1, field="quantity", new=Decimal("10"), reason="No change")],
        actor=REP,
    )

    assert snapshot(order) == before


def test_correcting_above_the_available_stock_is_refused(order, plant, sand):
    before = snapshot(order)

    with pytest.raises(InsufficientStock) as raised:
        order_correct(
            order=order,
            corrections=[Correction(position=1, field="quantity", new=Decimal("111"), reason="More")],
            actor=REP,
        )

    assert raised.value.errors == {"lines": [{"sku": "SAND", "requested": "101.000", "available": "90.000"}]}
    assert snapshot(order) == before
    assert stock(plant, sand) == (Decimal("100.000"), Decimal("10.000"))


def test_invalid_corrections_are_reported_per_line(order):
    OrderLine.objects.filter(order=order, position=2).update(delivered=Decimal("5"))
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_correct(
            order=order,
            corrections=[
                Correction(position=1, field="quantity", new=Decimal("1.0005"), reason="x"),
                Correction(position=2, field="quantity", new=Decimal("4"), reason="x"),
                Correction(position=3, field="quantity", new=Decimal("1"), reason="x"),
                Correction(position=1, field="sku", new=Decimal("1"), reason="x"),
            ],
            actor=REP,
        )

    assert raised.value.errors == {
        "lines": {
            "1": ["Only quantity and unit_price can be corrected."],
            "2": ["Quantity must be above 0 and at least 5.000."],
            "3": ["No such line."],
        }
    }
    assert snapshot(order) == before


def test_correcting_a_cancelled_order_is_refused(order):
    order_cancel_request(order=order, reason="Changed my mind", actor=CUSTOMER)
    before = snapshot(order)

    with pytest.raises(InvalidTransition):
        order_correct(
            order=order,
            corrections=[Correction(position=1, field="quantity", new=Decimal("5"), reason="x")],
            actor=REP,
        )

    assert snapshot(order) == before


# --- call-off --------------------------------------------------------------------------------------


@pytest.fixture
def on_call_order(place, sand, gravel):
    return place({sand: "10", gravel: "20"}, on_call=True)


def test_call_off_releases_quantities_and_asks_dispatch(on_call_order):
    order = on_call_order
    wanted = datetime(2030, 5, 4, 7, 30, tzinfo=UTC)

    call_off = order_call_off(
        order=order,
        actor=CUSTOMER,
        lines={1: Decimal("4")},
        wanted_at=wanted,
        note="First load",
        phone="+359888123456",
    )

    assert list(OrderLine.objects.filter(order=order).values_list("released", flat=True)) == [
        Decimal("4.000"),
        Decimal("0.000"),
    ]
    stored = CallOff.objects.get()
    assert (stored.pk, stored.status, stored.wanted_at, stored.requested_by, stored.note, stored.lines) == (
        call_off.pk,
        "open",
        wanted,
        "ivan@example.com",
        "First load",
        [{"position": 1, "quantity": "4.000"}],
    )
    assert reload(order).version == 2
    assert events(order)[1:] == [
        (
            "order.call_off",
            {
                "call_off": call_off.pk,
                "lines": [{"position": 1, "quantity": "4.000"}],
                "wanted_at": "2030-05-04T07:30:00+00:00",
            },
        )
    ]
    assert outbox(order)[1:] == [
        (
            "call.request",
            2,
            {
                "id": f"calloff-{call_off.pk}",
                "order": order.number,
                "job": None,
                "kind": "call_off",
                "reason": "First load",
                "phone": "+359888123456",
                "status": "open",
                "lines": [{"position": 1, "quantity": "4.000"}],
            },
        )
    ]


def test_call_off_without_lines_releases_everything_left(on_call_order):
    order = on_call_order
    order_call_off(order=order, actor=CUSTOMER, lines={1: Decimal("4")})

    second = order_call_off(order=order, actor=CUSTOMER)

    assert second.lines == [{"position": 1, "quantity": "6.000"}, {"position": 2, "quantity": "20.000"}]
    assert outbox(order)[-1][2]["reason"] == "Call-off"
    assert list(OrderLine.objects.filter(order=order).values_list("released", flat=True)) == [
        Decimal("10.000"),
        Decimal("20.000"),
    ]
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_call_off(order=order, actor=CUSTOMER)

    assert raised.value.errors == {"lines": {"": [CALL_OFF_TOO_MUCH]}}
    assert snapshot(order) == before


def test_call_off_above_the_quantity_left_is_refused(on_call_order):
    order = on_call_order
    before = snapshot(order)

    with pytest.raises(ValidationError) as raised:
        order_call_off(order=order, actor=CUSTOMER, lines={1: Decimal("10.001"), 2: Decimal("0")})

    assert raised.value.errors == {
        "lines": {"1": [CALL_OFF_TOO_MUCH], "2": ["Give a positive quantity of an existing line."]}
    }
    assert snapshot(order) == before


def test_call_off_of_an_order_that_is_not_on_call_is_refused(order):
    before = snapshot(order)

    with pytest.raises(InvalidTransition) as raised:
        order_call_off(order=order, actor=CUSTOMER)

    assert raised.value.detail == NOT_ON_CALL
    assert snapshot(order) == before


def test_call_off_of_a_cancelled_order_is_refused(on_call_order):
    order_cancel_request(order=on_call_order, reason="No longer needed", actor=CUSTOMER)
    before = snapshot(on_call_order)

    with pytest.raises(InvalidTransition) as raised:
        order_call_off(order=on_call_order, actor=CUSTOMER)

    assert raised.value.detail == "A cancelled order cannot be called off."
    assert snapshot(on_call_order) == before
