"""Portal writes that no other app owns: portal accounts, order messages and call-back requests."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer, CustomerEvent, PortalAccess
from fleet.models import CallRequest, Message, SenderRole
from oms.exceptions import Conflict, ValidationError
from oms.lib.actors import Actor
from orders.models import Order
from orders.services.events import order_event

CALLBACK_SLA = timedelta(hours=2)
ACCOUNT_EXISTS = "An account with this email address already exists. Sign in or reset your password."
BODY_REQUIRED = "Write a message (at most 2,000 characters)."
REASON_REQUIRED = "Say what the call is about (at most 200 characters)."


def portal_actor(user) -> Actor:
    return Actor(kind="customer", name=user.get_username(), user=user, channel="web")


def portal_user_create(*, customer: Customer, email: str, password: str, first_name: str = ""):
    """Create the portal login `email` (username = email) acting for `customer`. One transaction.

    Raises Conflict(ACCOUNT_EXISTS) when the address already has a login: a sign-up link works once.
    """
    email = email.strip().lower()
    user_model = get_user_model()
    try:
        with transaction.atomic():
            if user_model.objects.filter(username__iexact=email).exists():
                raise Conflict(ACCOUNT_EXISTS)
            user = user_model.objects.create_user(
                username=email, email=email, password=password, first_name=first_name[:150]
            )
            PortalAccess.objects.create(customer=customer, user=user)
            CustomerEvent.objects.create(
                customer=customer, at=timezone.now(), type="portal.user_created", actor=email
            )
    except IntegrityError as exc:  # the same link submitted twice at once
        raise Conflict(ACCOUNT_EXISTS) from exc
    return user


@transaction.atomic
def order_message_post(*, order: Order, body: str, actor: Actor) -> Message:
    """A customer message on the order's thread: timeline event and `message` to the ERP."""
    body = (body or "").strip()
    if not body or len(body) > 2000:
        raise ValidationError(BODY_REQUIRED, errors={"body": [BODY_REQUIRED]})
    message = Message.objects.create(
        order=order, sender_role=SenderRole.CUSTOMER, sender=actor.name, body=body, at=timezone.now()
    )
    order_event(
        order,
        "message.posted",
        actor=actor,
        data={"message": str(message.public_id), "from": SenderRole.CUSTOMER},
        outbox_type="message",
        outbox_payload={
            "id": f"msg-{message.public_id}",
            "thread": {"order": order.number},
            "from": SenderRole.CUSTOMER,
            "body": body,
            "at": message.at.isoformat(),
        },
    )
    return message


@transaction.atomic
def order_callback_request(*, order: Order, reason: str, phone: str, actor: Actor) -> CallRequest:
    """Ask for a call-back about an order: due within the 2-hour SLA; `call.request` to the ERP."""
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError(REASON_REQUIRED, errors={"reason": [REASON_REQUIRED]})
    now = timezone.now()
    call = CallRequest.objects.create(
        kind=CallRequest.Kind.CALLBACK,
        customer_id=order.customer_id,
        order=order,
        requested_by_role=SenderRole.CUSTOMER,
        requested_by=actor.name,
        phone=(phone or "").strip()[:30],
        reason=reason,
        due_at=now + CALLBACK_SLA,
        created_at=now,
    )
    order_event(
        order,
        "call.requested",
        actor=actor,
        data={"kind": call.kind, "due_at": call.due_at.isoformat()},
        outbox_type="call.request",
        outbox_payload={
            "id": f"call-{call.public_id}",
            "order": order.number,
            "job": None,
            "kind": call.kind,
            "reason": reason,
            "phone": call.phone,
            "status": call.status,
        },
    )
    return call
