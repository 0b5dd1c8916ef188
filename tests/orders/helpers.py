"""Readers of what a service wrote: the order timeline, the outbox and stock levels."""

from __future__ import annotations

from decimal import Decimal

from catalog.models import StockLevel
from oms.models import OutboxMessage
from orders.models import OrderEvent


def events(order) -> list[tuple[str, dict]]:
    """(type, data) of the order's timeline, oldest first."""
    return [(e.type, e.data) for e in OrderEvent.objects.filter(order=order).order_by("at", "pk")]


def outbox(order) -> list[tuple[str, int, dict]]:
    """(type, sequence, payload) of the order's ERP messages, in sequence order."""
    return [
        (m.type, m.sequence, m.payload)
        for m in OutboxMessage.objects.filter(aggregate_type="order", aggregate_id=order.number).order_by(
            "sequence"
        )
    ]


def outbox_types(order) -> list[str]:
    return [message_type for message_type, _, _ in outbox(order)]


def event_types(order) -> list[str]:
    return [event_type for event_type, _ in events(order)]


def stock(plant, product) -> tuple[Decimal, Decimal]:
    """(on_hand, allocated) of a product at a plant."""
    level = StockLevel.objects.get(plant=plant, product=product)
    return level.on_hand, level.allocated
