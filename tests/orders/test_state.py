"""The order state machine: every allowed transition works, every other one raises and writes nothing."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from oms.exceptions import InvalidTransition
from oms.lib.actors import Actor
from orders.models import Order, OrderEvent, OrderStatus
from orders.services.lifecycle import lock_order
from orders.state import ALLOWED_TRANSITIONS, RESUMABLE, TERMINAL, can_transition, order_transition

S = OrderStatus
MATRIX = list(itertools.product(S.values, S.values))
ALLOWED = [(a, b) for a, b in MATRIX if b in ALLOWED_TRANSITIONS[a]]
FORBIDDEN = [(a, b) for a, b in MATRIX if b not in ALLOWED_TRANSITIONS[a]]
REP = Actor(kind="user", name="rep", channel="phone")

# The design's state machine, written out so that a change to the map is a visible diff.
EXPECTED_ALLOWED = {
    ("placed", "confirmed"),
    ("placed", "on_hold"),
    ("placed", "scheduled"),
    ("placed", "cancellation_requested"),
    ("placed", "cancelled"),
    ("placed", "rejected"),
    ("on_hold", "placed"),
    ("on_hold", "confirmed"),
    ("on_hold", "cancelled"),
    ("on_hold", "rejected"),
    ("confirmed", "scheduled"),
    ("confirmed", "on_hold"),
    ("confirmed", "cancellation_requested"),
    ("confirmed", "cancelled"),
    ("confirmed", "in_delivery"),
    ("scheduled", "confirmed"),
    ("scheduled", "in_delivery"),
    ("scheduled", "cancellation_requested"),
    ("scheduled", "cancelled"),
    ("in_delivery", "partially_delivered"),
    ("in_delivery", "delivered"),
    ("in_delivery", "cancellation_requested"),
    ("partially_delivered", "in_delivery"),
    ("partially_delivered", "delivered"),
    ("partially_delivered", "completed"),
    ("partially_delivered", "cancellation_requested"),
    ("delivered", "completed"),
    ("cancellation_requested", "cancelled"),
    ("cancellation_requested", "placed"),
    ("cancellation_requested", "confirmed"),
    ("cancellation_requested", "scheduled"),
    ("cancellation_requested", "in_delivery"),
    ("cancellation_requested", "partially_delivered"),
}


def test_the_map_is_the_designed_state_machine():
    assert set(ALLOWED) == EXPECTED_ALLOWED
    assert len(MATRIX) == 121
    assert (len(ALLOWED), len(FORBIDDEN)) == (33, 88)
    assert set(TERMINAL) == {S.COMPLETED, S.CANCELLED, S.REJECTED}
    assert set(ALLOWED_TRANSITIONS) == set(S.values)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_changes_status_bumps_version_and_writes_one_event(
    order_factory, from_status, to_status
):
    order = order_factory(status=from_status, version=7)

    with transaction.atomic():
        locked = lock_order(order)
        assert can_transition(locked, to_status) is True
        event = order_transition(locked, to_status, actor=REP, data={"reason": "test"})

    order.refresh_from_db()
    assert (order.status, order.version) == (to_status, 8)
    expected_before = from_status if to_status in (S.ON_HOLD, S.CANCELLATION_REQUESTED) else ""
    assert order.status_before == expected_before
    stored = OrderEvent.objects.get(order=order)
    assert stored.pk == event.pk
    assert (stored.type, stored.actor_kind, stored.actor, stored.channel, stored.visible_to_customer) == (
        "order.status_changed",
        "user",
        "rep",
        "phone",
        True,
    )
    assert stored.data == {"from": from_status, "to": to_status, "reason": "test"}


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_forbidden_transition_raises_and_writes_nothing(order_factory, from_status, to_status):
    order = order_factory(status=from_status, version=7)
    updated_at = Order.objects.get(pk=order.pk).updated_at

    with transaction.atomic():
        locked = lock_order(order)
        assert can_transition(locked, to_status) is False
        with pytest.raises(InvalidTransition) as raised:
            order_transition(locked, to_status, actor=REP)

    assert raised.value.extra == {"from": from_status, "to": to_status}
    assert raised.value.detail == f"An order cannot go from {from_status} to {to_status}."
    assert raised.value.status == 409
    order.refresh_from_db()
    assert (order.status, order.version, order.status_before, order.updated_at) == (
        from_status,
        7,
        "",
        updated_at,
    )
    assert OrderEvent.objects.filter(order=order).count() == 0


def test_resumable_statuses_are_the_ones_a_request_can_return_to():
    assert ALLOWED_TRANSITIONS[S.CANCELLATION_REQUESTED] == RESUMABLE | {S.CANCELLED}
