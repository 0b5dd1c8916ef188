"""Reads of the phone order form."""

from __future__ import annotations

from customers.models import Customer
from orders.models import Order


def phone_order_customer(customer_id: str | int | None) -> Customer | None:
    """The customer a phone order is for, from the form's raw id: not merged away, else None."""
    if not customer_id or not str(customer_id).isdigit():
        return None
    return Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()


def order_by_number(*, number: str) -> Order:
    """The order with this number (raises Order.DoesNotExist)."""
    return Order.objects.get(number=number)
