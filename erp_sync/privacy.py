"""Erasing a customer contact on request: the entry point (docs/privacy.md).

`customer_erase` runs in one transaction: it locks the customer, refuses while orders are in
progress (unless forced), collects the values that identify the contact, erases them from every app
(`fleet.privacy` → `orders.privacy` → `customers.privacy`) and from the platform's stored copies —
outbox payloads, inbound messages, stored idempotent responses — then records the erasure and tells
every ERP with a `customer.erased` message. Orders, lines, quantities and money stay.

It lives here, in the highest domain app it touches, because the inbox is this app's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import Customer, CustomerErasure
from customers.privacy import contact_terms, erasure_record_counts
from erp_sync.models import InboxMessage, SyncRun
from fleet.privacy import fleet_erase_contact, fleet_terms
from oms.exceptions import Conflict, PermissionDenied
from oms.lib.actors import Actor
from oms.lib.personal import clean_terms, scrub_rows
from oms.models import ErpSystem, IdempotencyRecord, OutboxMessage
from oms.outbox import external_refs_for, outbox_enqueue
from orders.models import Order
from orders.payloads import iso
from orders.privacy import orders_in_progress

ERASE_PERMISSION = "customers.erase_personal_data"
EXPORT_PERMISSION = "customers.export_personal_data"
ERASED_TYPE = "customer.erased"


@dataclass(frozen=True)
class ErasureResult:
    erasure: CustomerErasure
    # True when the customer had been erased before: this call changed nothing.
    already_erased: bool


def check_erase_allowed(actor: Actor, *, force: bool) -> None:
    """A signed-in user needs the erase permission, and a superuser's rights to force. The command
    line (an actor without a user) is the operators' and may do both."""
    user = actor.user
    if user is None:
        return
    if not user.has_perm(ERASE_PERMISSION):
        raise PermissionDenied(_("You may not erase customers' personal data."))
    if force and not user.is_superuser:
        raise PermissionDenied(_("Only a superuser may erase a customer whose orders are in progress."))


def customer_erase(*, customer: Customer, actor: Actor, force: bool = False) -> ErasureResult:
    """Erase the customer contact's personal data everywhere; see the module docstring.

    Idempotent: a customer erased before is answered with its erasure record and nothing changes.
    Refused with Conflict while orders are in progress, unless `force` (orders keep being delivered
    to the erased site's city; the driver and the rep no longer see a name or a phone)."""
    check_erase_allowed(actor, force=force)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        if customer.merged_into_id is not None:
            survivor = Customer.objects.get(pk=customer.merged_into_id)
            raise Conflict(
                _("This customer was merged into %(number)s; erase that customer.")
                % {"number": survivor.number}
            )
        done = CustomerErasure.objects.filter(customer=customer).first()
        if done is not None:
            return ErasureResult(erasure=done, already_erased=True)
        open_orders = orders_in_progress(customer)
        if open_orders and not force:
            raise Conflict(
                _("The customer has orders in progress (%(orders)s); erase after they are settled.")
                % {"orders": ", ".join(open_orders[:10])},
                extra={"orders": open_orders},
            )
        at = timezone.now()
        terms = clean_terms([*contact_terms(customer), *fleet_terms(customer)])
        by = actor.name or actor.kind
        counts = fleet_erase_contact(customer=customer, terms=terms, by=by, at=at)
        counts.update(platform_scrub(terms))
        counts["orders_in_progress"] = len(open_orders)
        _announce(customer, at=at, forced=bool(open_orders))
        erasure = erasure_record_counts(customer=customer, counts=counts, forced=bool(open_orders))
    return ErasureResult(erasure=erasure, already_erased=False)


def platform_scrub(terms: list[str]) -> dict[str, int]:
    """The copies of the contact outside the domain tables, found by content.

    Outbox messages not yet delivered are rewritten, so the ERP gets the order without the person;
    delivered ones are rewritten too: their payload here is only our record of what was sent (the
    ERP keeps its own copy, which the `customer.erased` message asks it to erase)."""
    return {
        "outbox_messages": scrub_rows(
            OutboxMessage.objects.all(), ["payload", "erp_ack", "last_error"], terms
        ),
        "inbox_messages": scrub_rows(InboxMessage.objects.all(), ["payload", "raw", "error"], terms),
        "idempotency_records": scrub_rows(IdempotencyRecord.objects.all(), ["response_body"], terms),
        "sync_runs": scrub_rows(SyncRun.objects.all(), ["error", "counts"], terms),
    }


def customer_erased_payload(customer: Customer, *, at) -> dict[str, Any]:
    """`customer.erased`: which customer (by the OMS ids and each ERP's own number), when, and the
    orders whose copies hold the person's data. No personal data."""
    return {
        "customer": {
            "id": str(customer.public_id),
            "number": customer.number,
            "erp_refs": external_refs_for(customer),
        },
        "erased_at": iso(at),
        "orders": list(
            Order.objects.filter(customer=customer).order_by("number").values_list("number", flat=True)
        ),
    }


def erased_aggregate_id(customer: Customer, system: ErpSystem | None) -> str:
    """`C-…@<ERP code>`: one aggregate per receiving ERP, so that each gets sequence 1 and an ERP
    that is down or paused holds back no other ERP's message (the relay orders by aggregate)."""
    return f"{customer.number}@{system.code}" if system is not None else customer.number


def _announce(customer: Customer, *, at, forced: bool) -> None:
    """One `customer.erased` message per ERP system (a later one that did not exist yet never had the
    data); with no ERP configured, one unrouted message that the default ERP gets once it exists."""
    payload = customer_erased_payload(customer, at=at)
    payload["forced"] = forced
    systems = list(ErpSystem.objects.order_by("code")) or [None]
    for system in systems:
        outbox_enqueue(
            type=ERASED_TYPE,
            aggregate_type="customer",
            aggregate_id=erased_aggregate_id(customer, system),
            payload=payload,
            system=system,
        )
