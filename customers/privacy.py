"""A customer contact's personal data, the customers' part: the customer, its sites, its portal users
and their sign-in history (docs/privacy.md).

The apps above add their own records and call down: `fleet.privacy` (messages, call requests, proofs
of delivery) → `orders.privacy` (orders, timeline, returns, call-offs) → this module. The entry points
are `fleet.privacy.customer_export_archive` and `erp_sync.privacy.customer_erase`.
"""

from __future__ import annotations

import uuid
from typing import Any

from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, CustomerErasure, CustomerEvent, PortalAccess, Site
from oms.exceptions import NotFound
from oms.lib.personal import ERASED, phone_variants, scrub_rows

CUSTOMER_UNKNOWN = _("No customer with this id, number or public id.")
USER_FIELDS = ("id", "username", "email", "first_name", "last_name", "is_active", "date_joined", "last_login")
SIGN_IN_FIELDS = ("id", "attempt_time", "username", "ip_address", "user_agent", "path_info")


def customer_by_reference(reference: str | int) -> Customer:
    """The customer a staff member or an operator names: its database id, its number (C-…) or its
    public id. NotFound otherwise (also for a malformed reference)."""
    text = str(reference).strip()
    lookup: dict[str, Any]
    if text.isdigit():
        lookup = {"pk": int(text)}
    elif text.upper().startswith("C-"):
        lookup = {"number": text.upper()}
    else:
        try:
            lookup = {"public_id": uuid.UUID(text)}
        except ValueError as exc:
            raise NotFound(str(CUSTOMER_UNKNOWN)) from exc
    try:
        return Customer.objects.get(**lookup)
    except (Customer.DoesNotExist, DjangoValidationError) as exc:
        raise NotFound(str(CUSTOMER_UNKNOWN)) from exc


def portal_users(customer: Customer) -> list:
    """The portal logins that act for the customer."""
    user_ids = PortalAccess.objects.filter(customer=customer).values("user_id")
    return list(get_user_model().objects.filter(pk__in=user_ids).order_by("pk"))


def own_portal_users(customer: Customer) -> list:
    """The logins that are the contact's own: not staff, and acting for no other customer (a login
    shared with another customer belongs to someone who still acts for it, and is kept)."""
    users = portal_users(customer)
    shared = set(
        PortalAccess.objects.filter(user__in=users)
        .exclude(customer=customer)
        .values_list("user_id", flat=True)
    )
    return [user for user in users if user.pk not in shared and not user.is_staff]


def _sign_in_names(users: list) -> set[str]:
    """The names sign-ins are counted under: axes stores the username as typed, trimmed and lower-cased."""
    names = set()
    for user in users:
        names |= {user.get_username().strip().lower(), (user.email or "").strip().lower()}
    return {name for name in names if name}


def contact_terms(customer: Customer) -> list[Any]:
    """The values that identify the contact (searched for in every stored text of the apps above)."""
    terms: list[Any] = [customer.name, customer.email, customer.vat_id, *phone_variants(customer.phone)]
    for duplicate in Customer.objects.filter(merged_into=customer):
        terms += [duplicate.name, duplicate.email, duplicate.vat_id, *phone_variants(duplicate.phone)]
    for site in Site.objects.filter(customer=customer):
        terms += [site.contact_name, *phone_variants(site.contact_phone), site.address, site.address2]
    for user in own_portal_users(customer):
        terms += [user.get_username(), user.email, user.get_full_name()]
    return terms


# --- export -------------------------------------------------------------------------------------------


def customer_records(customer: Customer) -> dict[str, list[dict[str, Any]]]:
    """Everything this app holds about the customer, by kind (each a list of plain dicts)."""
    users = portal_users(customer)
    names = _sign_in_names(users)
    sign_ins = []
    # A sign-in, a logged failure, and the running count of failures per address (axes' attempts).
    kinds = ((AccessLog, "signed_in"), (AccessFailureLog, "failed"), (AccessAttempt, "failed_attempts"))
    for model, outcome in kinds:
        for row in model.objects.filter(username__in=names).order_by("attempt_time").values(*SIGN_IN_FIELDS):
            sign_ins.append({"outcome": outcome, **row})
    sign_ins.sort(key=lambda row: (row["attempt_time"], row["outcome"], row["id"]))
    customer_row = Customer.objects.filter(pk=customer.pk).values().get()
    customer_row["phone"] = str(customer_row["phone"] or "")
    sites = list(Site.objects.filter(customer=customer).order_by("pk").values())
    for site in sites:
        site["contact_phone"] = str(site["contact_phone"] or "")
    return {
        "customer": [customer_row],
        "sites": sites,
        "portal_users": [{field: getattr(user, field) for field in USER_FIELDS} for user in users],
        "sign_ins": sign_ins,
        "customer_events": list(
            CustomerEvent.objects.filter(customer=customer).order_by("at", "pk").values()
        ),
    }


# --- erasure ------------------------------------------------------------------------------------------


def customer_erase_contact(*, customer: Customer, terms: list[str], by: str, at) -> dict[str, int]:
    """Remove the contact's personal data held by this app (inside the caller's transaction, with
    the customer locked). The customer row, its number and its sites stay — orders point at them —
    with every personal field emptied or replaced by `[erased]`."""
    counts: dict[str, int] = {}
    own = own_portal_users(customer)
    names = _sign_in_names(own)
    counts["sites"] = Site.objects.filter(customer=customer).update(
        name=ERASED,
        address=ERASED,
        address2="",
        contact_name="",
        contact_phone="",
        access_notes="",
        lat=None,
        lon=None,
        active=False,
    )
    counts["customer_events"] = scrub_rows(
        CustomerEvent.objects.filter(customer=customer), ["actor", "data"], terms
    )
    # A login shared with another customer only loses its access to this one.
    counts["portal_access"] = PortalAccess.objects.filter(customer=customer).delete()[0]
    counts["portal_users"] = _anonymise_users(own)
    counts["sign_ins"] = sum(
        model.objects.filter(username__in=names).delete()[0]
        for model in (AccessAttempt, AccessFailureLog, AccessLog)
    )
    counts["admin_log"] = scrub_rows(LogEntry.objects.all(), ["object_repr", "change_message"], terms)
    Customer.objects.filter(pk=customer.pk).update(
        name=f"{ERASED} {customer.number}", email="", phone="", vat_id="", active=False, updated_at=at
    )
    # Duplicates merged into this customer were the same contact: they keep only their number.
    duplicates = Customer.objects.filter(merged_into=customer)
    counts["merged_duplicates"] = 0
    for duplicate in duplicates.order_by("pk"):
        counts["merged_duplicates"] += Customer.objects.filter(pk=duplicate.pk).update(
            name=f"{ERASED} {duplicate.number}", email="", phone="", vat_id="", updated_at=at
        )
    counts["customer_events"] += scrub_rows(
        CustomerEvent.objects.filter(customer__in=duplicates), ["actor", "data"], terms
    )
    CustomerEvent.objects.create(customer=customer, at=at, type="customer.erased", actor=by, data={})
    CustomerErasure.objects.create(
        customer=customer,
        customer_number=customer.number,
        customer_public_id=customer.public_id,
        requested_by=by,
        counts={},
        at=at,
    )
    return counts


def _anonymise_users(users: list) -> int:
    """Deactivate and rename the logins, remove their second factors and end their sessions."""
    if not users:
        return 0
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    ids = [user.pk for user in users]
    for user in users:
        user.username = f"erased-{user.pk}"
        user.email = ""
        user.first_name = ""
        user.last_name = ""
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["username", "email", "first_name", "last_name", "is_active", "password"])
    TOTPDevice.objects.filter(user_id__in=ids).delete()
    StaticDevice.objects.filter(user_id__in=ids).delete()
    wanted = {str(pk) for pk in ids}
    stale = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if str(session.get_decoded().get("_auth_user_id")) in wanted
    ]
    Session.objects.filter(Q(pk__in=stale)).delete()
    return len(users)


def erasure_record_counts(*, customer: Customer, counts: dict[str, int], forced: bool) -> CustomerErasure:
    """Store what the erasure touched (numbers only) on its record, once every app has reported."""
    CustomerErasure.objects.filter(customer=customer).update(counts=counts, forced=forced)
    return CustomerErasure.objects.get(customer=customer)
