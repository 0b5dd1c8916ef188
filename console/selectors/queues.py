"""Reads of the console's work queues: call-backs, approvals and messages awaiting a reply."""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from django.utils import timezone

from console.selectors.common import OPEN_CALLS
from fleet.models import CallRequest, Message, SenderRole
from orders.models import Order, OrderStatus, ReturnRequest, ReturnStatus

INBOUND_SENDERS = (SenderRole.CUSTOMER, SenderRole.DRIVER)


def callback_queue(*, now: datetime | None = None) -> list[CallRequest]:
    """Open and in-progress call-backs, due first; `overdue` set on each."""
    now = now or timezone.now()
    rows = list(
        CallRequest.objects.filter(status__in=OPEN_CALLS)
        .select_related("customer", "order", "job", "assigned_to")
        .order_by("due_at", "pk")
    )
    for row in rows:
        row.overdue = row.due_at < now
    return rows


def call_request_get(*, pk: int) -> CallRequest:
    """The call request with its order, or 404."""
    return get_object_or_404(CallRequest.objects.select_related("order"), pk=pk)


def approval_queue() -> dict[str, list]:
    """Cancellation requests and return requests waiting for a rep's decision."""
    return {
        "cancellations": list(
            Order.objects.filter(status=OrderStatus.CANCELLATION_REQUESTED)
            .select_related("customer", "plant")
            .order_by("updated_at", "pk")
        ),
        "returns": list(
            ReturnRequest.objects.filter(status=ReturnStatus.REQUESTED)
            .select_related("order__customer")
            .prefetch_related("lines__order_line")
            .order_by("created_at", "pk")
        ),
    }


def messages_awaiting_reply() -> list[Message]:
    """Unread messages from customers and drivers, oldest first."""
    return list(
        Message.objects.filter(sender_role__in=INBOUND_SENDERS, read_at__isnull=True)
        .select_related("order__customer", "job", "tour")
        .order_by("at", "pk")
    )


def message_get(*, pk: int) -> Message:
    """The message with its order, job and tour (its thread), or 404."""
    return get_object_or_404(Message.objects.select_related("order", "job", "tour"), pk=pk)


def queue_counts() -> dict[str, int]:
    """How many items wait in each queue (the console's home page)."""
    return {
        "callbacks": CallRequest.objects.filter(status__in=OPEN_CALLS).count(),
        "overdue": CallRequest.objects.filter(status__in=OPEN_CALLS, due_at__lt=timezone.now()).count(),
        "cancellations": Order.objects.filter(status=OrderStatus.CANCELLATION_REQUESTED).count(),
        "returns": ReturnRequest.objects.filter(status=ReturnStatus.REQUESTED).count(),
        "messages": Message.objects.filter(sender_role__in=INBOUND_SENDERS, read_at__isnull=True).count(),
    }
