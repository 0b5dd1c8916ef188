"""A customer contact's personal data, the orders' part: orders and their lines, the order timeline,
returns and call-offs (docs/privacy.md). Called by `fleet.privacy`; calls `customers.privacy`.

Orders, lines, quantities and money are the accounts and stay as they are; only the personal fields
of an order (the delivery address snapshot, the free-text notes) and the names copied into its
timeline are erased.
"""

from __future__ import annotations

from typing import Any

from customers.models import Customer
from customers.privacy import customer_records
from oms.lib.personal import ERASED, scrub_rows
from orders.models import CallOff, Order, OrderEvent, OrderLine, OrderStatus, ReturnRequest
from orders.state import TERMINAL

# Orders past these states no longer need the contact: nothing more is delivered or decided.
SETTLED = frozenset(TERMINAL) | {OrderStatus.DELIVERED}
# The parts of the delivery address kept after an erasure: no street, no name, no coordinates.
ADDRESS_KEPT = ("city", "postcode", "country")


def orders_in_progress(customer: Customer) -> list[str]:
    """Numbers of the customer's orders that are not settled yet (an erasure waits for them)."""
    return list(
        Order.objects.filter(customer=customer)
        .exclude(status__in=SETTLED)
        .order_by("number")
        .values_list("number", flat=True)
    )


def order_records(customer: Customer) -> dict[str, list[dict[str, Any]]]:
    """The customers' records plus the orders (each with its lines), timeline, returns and call-offs."""
    records = customer_records(customer)
    orders = list(Order.objects.filter(customer=customer).order_by("created_at", "pk").values())
    lines: dict[int, list[dict]] = {}
    for line in OrderLine.objects.filter(order__customer=customer).order_by("order_id", "position").values():
        lines.setdefault(line["order_id"], []).append(line)
    for order in orders:
        order["lines"] = lines.get(order["id"], [])
    returns = list(ReturnRequest.objects.filter(order__customer=customer).order_by("pk").values())
    records.update(
        orders=orders,
        order_events=list(OrderEvent.objects.filter(order__customer=customer).order_by("at", "pk").values()),
        returns=returns,
        call_offs=list(CallOff.objects.filter(order__customer=customer).order_by("pk").values()),
    )
    return records


def order_terms(customer: Customer) -> list[Any]:
    """Names this app stored for the contact besides the customer's own fields."""
    names = list(
        ReturnRequest.objects.filter(order__customer=customer).values_list("requested_by", flat=True)
    )
    names += CallOff.objects.filter(order__customer=customer).values_list("requested_by", flat=True)
    return names


def orders_erase_contact(*, customer: Customer, terms: list[str], by: str, at) -> dict[str, int]:
    """Erase the contact from the orders' records (in the caller's transaction), then from the
    customers' (`customers.privacy.customer_erase_contact`)."""
    from customers.privacy import customer_erase_contact

    counts: dict[str, int] = {}
    orders = Order.objects.filter(customer=customer)
    erased_orders = 0
    for order in orders.order_by("pk").values("pk", "address"):
        address = order["address"] or {}
        kept = {key: address[key] for key in ADDRESS_KEPT if key in address}
        if address:
            kept.update(name=ERASED, address=ERASED)
        erased_orders += Order.objects.filter(pk=order["pk"]).update(address=kept, notes="")
    counts["orders"] = erased_orders
    counts["order_events"] = scrub_rows(
        OrderEvent.objects.filter(order__customer=customer), ["actor", "data"], terms
    )
    counts["returns"] = scrub_rows(
        ReturnRequest.objects.filter(order__customer=customer),
        ["requested_by", "reason", "decision_note"],
        terms,
    )
    counts["call_offs"] = scrub_rows(
        CallOff.objects.filter(order__customer=customer), ["requested_by", "note"], terms
    )
    counts.update(customer_erase_contact(customer=customer, terms=terms, by=by, at=at))
    return counts
