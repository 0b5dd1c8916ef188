"""Returns: requested → approved / rejected → (pickup scheduled) → received → closed, with restock."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from catalog.models import StockLevel
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from orders.models import Order, OrderLine, OrderStatus, ReturnLine, ReturnRequest
from orders.services.returns import (
    RETURN_TOO_MUCH,
    return_approve,
    return_close,
    return_receive,
    return_reject,
    return_request,
    return_schedule_pickup,
)
from tests.orders.helpers import events, outbox, stock

pytestmark = pytest.mark.django_db
CUSTOMER = Actor(kind="customer", name="ivan@example.com", channel="web")
REP = Actor(kind="user", name="maria", channel="phone")


@pytest.fixture
def bags(stocked):
    return stocked("100", sku="CEMENT-25", unit_price=Decimal("8.00"))


@pytest.fixture
def concrete(product_factory):
    return product_factory(sku="C25", stocked=False, unit="m3", unit_price=Decimal("90.00"))


@pytest.fixture
def delivered(place, bags, concrete, plant):
    """An order of 10 bags and 6 m³ concrete, delivered in full (the fleet consumed the bags)."""
    order = place({bags: "10", concrete: "6"})
    OrderLine.objects.filter(order=order).update(delivered=F("quantity"), allocated=Decimal("0"))
    StockLevel.objects.filter(plant=plant, product=bags).update(on_hand=Decimal("90"), allocated=Decimal("0"))
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.DELIVERED, updated_at=timezone.now())
    return Order.objects.get(pk=order.pk)


def snapshot(order):
    return (
        list(ReturnRequest.objects.filter(order=order).values_list("number", "status", "decision_note")),
        list(ReturnLine.objects.filter(return_request__order=order).values_list("quantity", "received")),
        list(OrderLine.objects.filter(order=order).order_by("position").values_list("returned", flat=True)),
        events(order),
        outbox(order),
    )


def test_request_a_return_of_delivered_goods(delivered):
    ret = return_request(order=delivered, lines={1: Decimal("3")}, reason="Too many bags", actor=CUSTOMER)

    assert ret.number == f"RET-{timezone.now().year}-{int(ret.number.rsplit('-', 1)[1]):06d}"
    assert (ret.status, ret.reason, ret.requested_by) == ("requested", "Too many bags", "ivan@example.com")
    assert list(ret.lines.values_list("order_line__position", "quantity", "received")) == [
        (1, Decimal("3.000"), Decimal("0.000"))
    ]
    payload_lines = [{"position": 1, "quantity": "3.000"}]
    assert events(delivered)[1:] == [
        ("return.requested", {"return": ret.number, "lines": payload_lines, "reason": "Too many bags"})
    ]
    assert outbox(delivered)[1:] == [
        (
            "return.requested",
            2,
            {
                "order": delivered.number,
                "return": ret.number,
                "lines": payload_lines,
                "reason": "Too many bags",
            },
        )
    ]


def test_a_return_cannot_exceed_what_was_delivered_and_not_yet_returned_or_requested(delivered):
    return_request(order=delivered, lines={1: Decimal("7")}, reason="Too many", actor=CUSTOMER)
    before = snapshot(delivered)

    with pytest.raises(ValidationError) as raised:
        return_request(
            order=delivered, lines={1: Decimal("3.001"), 3: Decimal("1")}, reason="More", actor=CUSTOMER
        )

    assert raised.value.errors == {
        "lines": {"1": [RETURN_TOO_MUCH], "3": ["Give a positive quantity of an existing line."]}
    }
    assert snapshot(delivered) == before


def test_goods_of_an_undelivered_order_cannot_be_returned(place, bags):
    order = place({bags: "1"})

    with pytest.raises(InvalidTransition) as raised:
        return_request(order=order, lines={1: Decimal("1")}, reason="x", actor=CUSTOMER)

    assert raised.value.detail == "Goods of a placed order cannot be returned."
    assert ReturnRequest.objects.count() == 0
    assert [t for t, _ in events(order)] == ["order.placed"]


def test_approve_then_receive_restocks_and_reports_item_positions(delivered, plant, bags):
    ret = return_request(
        order=delivered, lines={1: Decimal("3"), 2: Decimal("1.5")}, reason="Too much", actor=CUSTOMER
    )

    return_approve(ret=ret, actor=REP, note="OK")
    return_schedule_pickup(ret=ret, actor=REP)
    return_receive(ret=ret, actor=REP, received={1: Decimal("2")})
    return_close(ret=ret, actor=REP)

    ret.refresh_from_db()
    assert (ret.status, ret.decision_note) == ("closed", "OK")
    assert list(ret.lines.order_by("pk").values_list("quantity", "received")) == [
        (Decimal("3.000"), Decimal("2.000")),
        (Decimal("1.500"), Decimal("1.500")),
    ]
    assert list(OrderLine.objects.filter(order=delivered).values_list("returned", flat=True)) == [
        Decimal("2.000"),
        Decimal("1.500"),
    ]
    # Only stocked goods go back on hand: 2 bags (the concrete is made to order).
    assert stock(plant, bags) == (Decimal("92.000"), Decimal("0.000"))
    assert events(delivered)[2:] == [
        ("return.approved", {"return": ret.number, "from": "requested", "note": "OK"}),
        ("return.pickup_scheduled", {"return": ret.number, "from": "approved", "note": ""}),
        ("return.received", {"return": ret.number, "from": "pickup_scheduled", "note": ""}),
        ("erp.item_positions", {}),
        (
            "return.goods_received",
            {
                "return": ret.number,
                "ticket": None,
                "lines": [
                    {"position": 1, "quantity": "3.000", "received": "2.000"},
                    {"position": 2, "quantity": "1.500", "received": "1.500"},
                ],
            },
        ),
        ("return.closed", {"return": ret.number, "from": "received", "note": ""}),
    ]
    assert [(t, s) for t, s, _ in outbox(delivered)] == [
        ("order.created", 1),
        ("return.requested", 2),
        ("item.positions", 3),
        ("return.received", 4),
    ]
    assert outbox(delivered)[3][2] == {
        "order": delivered.number,
        "return": ret.number,
        "ticket": None,
        "lines": [
            {"position": 1, "quantity": "3.000", "received": "2.000"},
            {"position": 2, "quantity": "1.500", "received": "1.500"},
        ],
    }
    assert outbox(delivered)[2][2] == {
        "order": delivered.number,
        "lines": [
            {
                "position": 1,
                "ordered": "10.000",
                "allocated": "0.000",
                "loaded": "0.000",
                "delivered": "10.000",
                "returned": "2.000",
                "cancelled": "0.000",
            },
            {
                "position": 2,
                "ordered": "6.000",
                "allocated": "0.000",
                "loaded": "0.000",
                "delivered": "6.000",
                "returned": "1.500",
                "cancelled": "0.000",
            },
        ],
    }


def test_reject_a_return_with_a_note(delivered):
    ret = return_request(order=delivered, lines={1: Decimal("3")}, reason="Too many", actor=CUSTOMER)

    return_reject(ret=ret, actor=REP, note="Opened bags")

    ret.refresh_from_db()
    assert (ret.status, ret.decision_note) == ("rejected", "Opened bags")
    assert events(delivered)[-1] == (
        "return.rejected",
        {"return": ret.number, "from": "requested", "note": "Opened bags"},
    )
    assert [t for t, _, _ in outbox(delivered)] == ["order.created", "return.requested"]
    # A rejected request no longer holds the quantity: it can be asked for again.
    again = return_request(order=delivered, lines={1: Decimal("10")}, reason="All", actor=CUSTOMER)
    assert again.status == "requested"


def test_reject_needs_a_note_and_a_decided_return_cannot_be_decided_again(delivered):
    ret = return_request(order=delivered, lines={1: Decimal("3")}, reason="Too many", actor=CUSTOMER)

    with pytest.raises(ValidationError):
        return_reject(ret=ret, actor=REP, note=" ")
    return_approve(ret=ret, actor=REP)
    before = snapshot(delivered)
    with pytest.raises(InvalidTransition) as raised:
        return_reject(ret=ret, actor=REP, note="Changed my mind")

    assert raised.value.detail == "A return cannot go from approved to rejected."
    assert snapshot(delivered) == before


def test_receiving_more_than_requested_is_refused(delivered, plant, bags):
    ret = return_request(order=delivered, lines={1: Decimal("3")}, reason="Too many", actor=CUSTOMER)
    return_approve(ret=ret, actor=REP)
    before = snapshot(delivered)

    with pytest.raises(ValidationError) as raised:
        return_receive(ret=ret, actor=REP, received={1: Decimal("4")})

    assert raised.value.errors == {"received": {"1": ["Received must be between 0 and 3.000."]}}
    assert snapshot(delivered) == before
    assert stock(plant, bags) == (Decimal("90.000"), Decimal("0.000"))


def test_a_return_cannot_be_received_before_approval(delivered, plant, bags):
    ret = return_request(order=delivered, lines={1: Decimal("3")}, reason="Too many", actor=CUSTOMER)
    before = snapshot(delivered)

    with pytest.raises(InvalidTransition):
        return_receive(ret=ret, actor=REP)

    assert snapshot(delivered) == before
    assert stock(plant, bags) == (Decimal("90.000"), Decimal("0.000"))
