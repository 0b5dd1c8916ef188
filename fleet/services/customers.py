"""Merging duplicate customers, the entry point: call requests move here, then orders and customers."""

from __future__ import annotations

from django.db import transaction

from customers.models import Customer
from customers.services import customer_merge_lock
from fleet.models import CallRequest
from oms.lib.actors import Actor
from orders.services.customers import customer_merge as orders_customer_merge


@transaction.atomic
def customer_merge(*, survivor: Customer, duplicate: Customer, actor: Actor) -> Customer:
    """Merge `duplicate` into `survivor` everywhere: call requests, orders (with their timeline),
    sites, portal users and ERP references. One transaction; both customers are locked first."""
    survivor, duplicate = customer_merge_lock(survivor=survivor, duplicate=duplicate)
    moved_calls = CallRequest.objects.filter(customer=duplicate).update(customer=survivor)
    return orders_customer_merge(
        survivor=survivor, duplicate=duplicate, actor=actor, moved={"call_requests": moved_calls}
    )
