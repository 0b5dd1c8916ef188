"""Merging duplicate customers, the orders' part: the orders move to the survivor, each with an event."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from customers.models import Customer
from customers.services import customer_merge as customers_merge
from customers.services import customer_merge_lock
from oms.lib.actors import Actor
from orders.models import Order
from orders.services.events import order_events_bulk


@transaction.atomic
def customer_merge(
    *, survivor: Customer, duplicate: Customer, actor: Actor, moved: dict[str, int] | None = None
) -> Customer:
    """Move the duplicate's orders to the survivor (`order.customer_merged` on each, staff only), then
    merge the customers themselves (`customers.services.customer_merge`)."""
    survivor, duplicate = customer_merge_lock(survivor=survivor, duplicate=duplicate)
    now = timezone.now()
    order_ids = list(Order.objects.filter(customer=duplicate).values_list("pk", flat=True))
    moved_orders = Order.objects.filter(pk__in=order_ids).update(
        customer=survivor, version=F("version") + 1, updated_at=now
    )
    order_events_bulk(
        order_ids=order_ids,
        type="order.customer_merged",
        actor=actor,
        data={"from": duplicate.number, "to": survivor.number},
        at=now,
    )
    return customers_merge(
        survivor=survivor, duplicate=duplicate, actor=actor, moved={**(moved or {}), "orders": moved_orders}
    )
