"""Reads of the customer 360 page and the portal invite."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404

from console.selectors.common import OPEN_CALLS, erp_refs_of
from customers.models import Customer, CustomerEvent, PortalAccess
from fleet.models import CallRequest, Message
from orders.models import Order, ReturnRequest


def customer_get(*, pk: int) -> Customer:
    """The customer (merged or not), or 404."""
    return get_object_or_404(Customer, pk=pk)


def customer_for_360(*, pk: int) -> Customer:
    """The customer with the customer it was merged into and its default plant, or 404."""
    return get_object_or_404(Customer.objects.select_related("merged_into", "default_plant"), pk=pk)


def customer_360(*, customer: Customer, order_limit: int = 50) -> dict[str, Any]:
    """Everything a rep needs about one customer on one page."""
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("plant", "site", "erp_system")
        .order_by("-created_at", "-id")[:order_limit]
    )
    return {
        "customer": customer,
        "sites": list(customer.sites.order_by("-active", "name")),
        "orders": orders,
        "order_count": Order.objects.filter(customer=customer).count(),
        "order_counts_by_channel": dict(
            Order.objects.filter(customer=customer)
            .values("channel")
            .annotate(n=Count("id"))
            .values_list("channel", "n")
        ),
        "callbacks": list(
            CallRequest.objects.filter(
                Q(customer=customer) | Q(order__customer=customer), status__in=OPEN_CALLS
            )
            .select_related("order", "assigned_to")
            .order_by("due_at", "pk")
        ),
        "customer_messages": list(
            Message.objects.filter(order__customer=customer)
            .select_related("order")
            .order_by("-at", "-pk")[:20]
        ),
        "returns": list(
            ReturnRequest.objects.filter(order__customer=customer)
            .select_related("order")
            .order_by("-created_at", "-pk")[:20]
        ),
        "erp_refs": erp_refs_of(customer),
        "portal_users": list(
            PortalAccess.objects.filter(customer=customer).select_related("user").order_by("created_at")
        ),
        "events": list(CustomerEvent.objects.filter(customer=customer).order_by("-at", "-pk")[:20]),
        "merged": list(Customer.objects.filter(merged_into=customer).order_by("number")),
    }
