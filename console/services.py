"""Console writes the domain apps do not offer (yet): the admin history of console actions, call-back
handling, message read state and replies, ERP resend with a timeline entry, portal invites and order
exports.

Each is one transaction: lock (or conditional update) → check → change → timeline event.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer, CustomerEvent
from customers.services import normalize_email
from customers.signup import signup_link
from erp_sync.services import outbox_replay
from fleet.models import Message, SenderRole
from fleet.services import message_post
from oms.exceptions import InvalidTransition, NotFound, ValidationError
from oms.lib.actors import Actor
from oms.models import OutboxMessage, OutboxStatus
from orders.models import ErpSyncState, Order
from orders.services.events import order_event
from orders.services.lifecycle import lock_order
from orders.state import erp_sync_state_move

NOT_DEAD = "Only a dead ERP message can be resent."
EMAIL_REQUIRED = "Enter a valid email address."

# ---------------------------------------------------------------------------------------------
# Admin history
# ---------------------------------------------------------------------------------------------


def audit_log(*, user_id: int, obj: Any, message: str) -> None:
    """The admin history entry of a console action (LogEntry, action CHANGE)."""
    LogEntry.objects.log_actions(
        user_id=user_id,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


# ---------------------------------------------------------------------------------------------
# ERP resend
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def order_outbox_resend(*, order: Order, message_id: str, actor: Actor) -> int:
    """Put a dead ERP message of the order back to pending (erp_sync's `outbox_replay`) and record
    `erp.resend_requested` on the timeline with the rep as actor. Returns the number re-queued."""
    try:
        message_id = str(uuid.UUID(str(message_id)))
    except ValueError as exc:
        raise NotFound() from exc
    order = lock_order(order)
    message = OutboxMessage.objects.filter(
        pk=message_id, aggregate_type="order", aggregate_id=order.number
    ).first()
    if message is None:
        raise NotFound()
    if message.status != OutboxStatus.DEAD:
        raise InvalidTransition(NOT_DEAD)
    count = outbox_replay(ids=[str(message.pk)])
    if count:
        # The relay only moves orders from pending to sent; a replayed order must be pending again.
        if order.erp_sync_state == ErpSyncState.FAILED:
            erp_sync_state_move(ErpSyncState.PENDING, order=order)
        order_event(
            order,
            "erp.resend_requested",
            actor=actor,
            visible=False,
            data={"message": str(message.pk), "type": message.type, "sequence": message.sequence},
        )
    return count


# ---------------------------------------------------------------------------------------------
# Call-backs
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------------------------


def message_mark_read(*, message: Message) -> bool:
    """Mark an inbound message handled; False when it already was."""
    return bool(Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=timezone.now()))


@transaction.atomic
def message_reply(*, message: Message, body: str, sender_role: str, sender: str, actor: Actor) -> None:
    """Reply in the message's thread (fleet's `message_post`) when `body` is given; mark it handled.
    A driver's message is answered in that driver's inbox."""
    to_driver = message.sender_role == SenderRole.DRIVER and message.driver_id is not None
    if body:
        message_post(
            sender_role=sender_role,
            sender=sender,
            body=body,
            actor=actor,
            order=message.order,
            tour=message.tour,
            job=message.job,
            to_driver=to_driver,
            driver=message.driver if to_driver else None,
        )
    message_mark_read(message=message)


# ---------------------------------------------------------------------------------------------
# Portal invite
# ---------------------------------------------------------------------------------------------


@transaction.atomic
def portal_invite_send(*, customer: Customer, email: str, actor: Actor) -> str:
    """Email a signed sign-up link for the customer's portal; the invite is on the customer's audit."""
    email = normalize_email(email)
    if not email or "@" not in email or len(email) > 254:
        raise ValidationError(EMAIL_REQUIRED, errors={"email": [EMAIL_REQUIRED]})
    link = signup_link(customer=customer, email=email)
    days = getattr(settings, "OMS_PORTAL_SIGNUP_MAX_AGE", 2 * 24 * 3600) // 86400
    body = _(
        "Hello,\n\n%(who)s invited you to the customer portal of %(customer)s.\n"
        "Open this link within %(days)s days to create your account:\n\n%(link)s\n"
    ) % {"who": actor.name, "customer": customer.name, "days": days, "link": link}
    CustomerEvent.objects.create(
        customer=customer,
        at=timezone.now(),
        type="customer.portal_invited",
        actor=actor.name,
        data={"email": email},
    )
    transaction.on_commit(lambda: send_mail(_("Your customer portal account"), body, None, [email]))
    return link


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------

EXPORT_HEADER = [
    "number",
    "created_at",
    "channel",
    "status",
    "customer_number",
    "customer_name",
    "site",
    "requested_date",
    "plant",
    "currency",
    "net_total",
    "tax_total",
    "gross_total",
    "external_ref",
    "erp_system",
    "erp_order_number",
    "erp_sync_state",
]
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Spreadsheet formula-injection guard: text starting with = + - @ (or tab/CR) gets a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def export_rows(orders: Iterable[Order]) -> Iterator[list[Any]]:
    for o in orders:
        yield [
            safe_cell(v)
            for v in (
                o.number,
                o.created_at.isoformat(),
                o.channel,
                o.status,
                o.customer.number,
                o.customer.name,
                o.site.name if o.site_id else "",
                o.requested_date.isoformat(),
                o.plant.code,
                o.currency,
                f"{o.net_total:.2f}",
                f"{o.tax_total:.2f}",
                f"{o.gross_total:.2f}",
                o.external_ref,
                o.erp_system.code if o.erp_system_id else "",
                o.erp_order_number,
                o.erp_sync_state,
            )
        ]


EXPORT_NAME = re.compile(r"orders-[0-9]{8}-[0-9]{6}-[0-9a-f]{8}\.csv")
PREPARING = ".part"


EXPORTS_FOLDER = "exports/"


def export_path(user_id: int, name: str = "") -> str:
    """The storage name of one of the user's exports (or of their folder): `exports/<user id>/<name>`."""
    return f"{EXPORTS_FOLDER}{int(user_id)}/{name}"


def export_new_name() -> str:
    return f"orders-{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:8]}.csv"


def is_export_name(name: str) -> bool:
    """Only names `export_new_name` makes can be downloaded: nothing else, no path, is ever opened."""
    return EXPORT_NAME.fullmatch(name) is not None


def order_export_queue(*, user_id: int, filters: dict[str, Any]) -> str:
    """Have a Celery task write the export after the commit; returns the file's name."""
    from console.tasks import console_export_orders

    name = export_new_name()
    transaction.on_commit(lambda: console_export_orders.delay(user_id, name, filters))
    return name


def order_export_write(*, user_id: int, name: str, filters: dict[str, Any]) -> str:
    """Write the filtered order list to the storage as `exports/<user>/<name>`; returns its name.

    The CSV is written to a local temporary file, then saved whole; meanwhile an empty `<name>.part`
    marks it as being prepared. Idempotent: a finished file is left as it is.
    """
    from console.selectors import order_export_queryset

    target = export_path(user_id, name)
    if default_storage.exists(target):
        return target
    marker = default_storage.save(target + PREPARING, ContentFile(b""))
    try:
        with tempfile.TemporaryFile("w+b") as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(EXPORT_HEADER)
            writer.writerows(export_rows(order_export_queryset(filters).iterator(chunk_size=2000)))
            text.flush()
            raw.seek(0)
            saved = default_storage.save(target, File(raw))
            text.detach()
    finally:
        default_storage.delete(marker)
    if saved != target:  # a parallel run of the same task got there first
        default_storage.delete(saved)
    return target


def exports_purge(*, older_than: timedelta) -> int:
    """Delete the export files (and markers a killed task left) last written more than `older_than`
    ago; returns how many.

    Exports are copies of order data made for one person: kept long enough to download, not forever.
    """
    from console.selectors import exports_older_than

    cutoff = timezone.now() - older_than
    deleted = 0
    for name in list(exports_older_than(cutoff)):
        default_storage.delete(name)
        deleted += 1
    return deleted
