"""Customer writes: identity matching across channels, creation, sites, merging duplicates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from customers.models import Customer, CustomerEvent, Site
from oms.exceptions import Conflict, CustomerExists, NotFound, ValidationError
from oms.lib.actors import Actor
from oms.lib.bulk import fetch_where
from oms.lib.sequences import next_value
from oms.lib.unset import UNSET, given
from oms.models import ExternalRef

DEFAULT_REGION = "BG"
INVALID_PHONE = gettext_noop("Enter a valid phone number (E.164, e.g. +359888123456).")
INVALID_NAME = gettext_noop("Name is required (at most 200 characters).")
CUSTOMER_NOT_FOUND = gettext_noop("Customer not found.")
NUMBER_ATTEMPTS = 20
SITE_NOT_FOUND = gettext_noop("Site not found.")
EMAIL_TAKEN = "Email {email!r} belongs to another customer ({number})."
PHONE_TAKEN = "Phone {phone!r} belongs to another customer ({number})."


def normalize_phone(raw: str | None) -> str:
    """E.164 or "" for empty; ValidationError for garbage."""
    if not raw:
        return ""
    try:
        parsed = phonenumbers.parse(str(raw), DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(INVALID_PHONE, errors={"phone": [INVALID_PHONE]}) from exc
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(INVALID_PHONE, errors={"phone": [INVALID_PHONE]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str | None) -> str:
    return (raw or "").strip().lower()


def customer_number(value: int) -> str:
    return f"C-{value:06d}"


def customer_match(
    *, email: str | None = None, phone: str | None = None, number: str | None = None
) -> Customer | None:
    """The one customer matching any of the identifiers (number first, then email, then phone)."""
    active = Customer.objects.filter(merged_into__isnull=True)
    if number:
        found = active.filter(number=number.strip().upper()).first()
        if found:
            return found
    email = normalize_email(email)
    if email:
        found = active.filter(email__iexact=email).first()
        if found:
            return found
    if phone:
        e164 = normalize_phone(phone)
        found = active.filter(phone=e164).first()
        if found:
            return found
    return None


@dataclass(frozen=True)
class CustomerData:
    name: str
    email: str = ""
    phone: str = ""
    kind: str = Customer.Kind.PERSON
    vat_id: str = ""
    language: str = "en"


def customer_create(
    *, data: CustomerData, actor: Actor, event: str = "customer.created", event_data: dict | None = None
) -> Customer:
    """Create a customer; an existing match by email or phone → CustomerExists (nothing created).

    `event` and `event_data` make the creation's timeline event (an ERP's names its number)."""
    name = (data.name or "").strip()
    if not name or len(name) > 200:
        raise ValidationError(INVALID_NAME, errors={"name": [INVALID_NAME]})
    email = normalize_email(data.email)
    phone = normalize_phone(data.phone)
    existing = customer_match(email=email, phone=phone)
    if existing is not None:
        raise CustomerExists(extra={"id": str(existing.public_id)})
    # A number taken outside the sequence (imported or hand-made customers) is skipped, not an error.
    for _ in range(NUMBER_ATTEMPTS):
        number = customer_number(next_value("customer_number"))
        try:
            with transaction.atomic():
                customer = Customer.objects.create(
                    number=number,
                    kind=data.kind,
                    name=name,
                    email=email,
                    phone=phone,
                    vat_id=(data.vat_id or "").strip(),
                    language=data.language,
                )
                CustomerEvent.objects.create(
                    customer=customer, at=timezone.now(), type=event, actor=actor.name, data=event_data or {}
                )
        except IntegrityError as exc:
            # A concurrent registration with the same email/phone won the race.
            existing = customer_match(email=email, phone=phone)
            if existing is not None:
                raise CustomerExists(extra={"id": str(existing.public_id)}) from exc
            if not Customer.objects.filter(number=number).exists():
                raise
            continue
        return customer
    raise ValidationError("Could not allocate a customer number; try again.")


ERP_FIELDS = ("name", "email", "phone", "vat_id", "kind", "active")


@transaction.atomic
def customer_upsert_from_erp(
    *,
    erp_number: str,
    linked: Customer | None,
    name: str,
    actor: Actor,
    email: str | None = UNSET,
    phone: str | None = UNSET,
    vat_id: str | None = UNSET,
    kind: str | None = UNSET,
    active: bool = UNSET,
) -> Customer:
    """An ERP's customer `erp_number`: the OMS keeps its own `C-…` number and updates, or creates,
    one customer whatever the channel. A field left out keeps its value.

    The customer is `linked` (the one the ERP's reference points at; a merged-away one stands for its
    survivor), else the one matching the email or phone, else a new one. Email and phone must not
    belong to another customer. The change is on the customer's timeline: `customer.erp_created`,
    or `customer.erp_updated` with the fields that changed (nothing when nothing changed).
    """
    given_fields = list(given(email=email, phone=phone, vat_id=vat_id, kind=kind, active=active))
    email_value = normalize_email(email or "")
    phone_value = normalize_phone(phone) if phone else ""
    customer = linked
    if customer is not None and customer.merged_into_id:
        customer = Customer.objects.get(pk=customer.merged_into_id)
    if customer is None:
        customer = customer_match(email=email_value, phone=phone_value)
    if customer is None:
        customer = customer_create(
            data=CustomerData(
                name=name,
                email=email_value,
                phone=phone_value,
                kind=kind or Customer.Kind.COMPANY,
                vat_id=vat_id or "",
            ),
            actor=actor,
            event="customer.erp_created",
            event_data={"erp_number": erp_number, "fields": ["name", *given_fields]},
        )
        if active is not UNSET:
            customer.active = active
            customer.save(update_fields=["active", "updated_at"])
        return customer
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = {field: getattr(customer, field) for field in ERP_FIELDS}
    customer.name = name
    if email is not UNSET:
        _check_contact_free(customer, email=email_value)
        customer.email = email_value
    if phone is not UNSET:
        _check_contact_free(customer, phone=phone_value)
        customer.phone = phone_value
    if vat_id is not UNSET:
        customer.vat_id = vat_id or ""
    if kind:
        customer.kind = kind
    if active is not UNSET:
        customer.active = active
    customer.save()
    changed = [field for field in ERP_FIELDS if getattr(customer, field) != before[field]]
    if changed or linked is None:
        CustomerEvent.objects.create(
            customer=customer,
            at=timezone.now(),
            type="customer.erp_updated",
            actor=actor.name,
            data={"erp_number": erp_number, "fields": changed},
        )
    return customer


def _check_contact_free(customer: Customer, *, email: str = "", phone: str = "") -> None:
    """Email and phone identify one customer: another one holding them is a conflict."""
    other = None
    if email:
        other = Customer.objects.filter(email__iexact=email).exclude(pk=customer.pk).first()
        if other is not None:
            raise Conflict(EMAIL_TAKEN.format(email=email, number=other.number))
    if phone:
        other = Customer.objects.filter(phone=phone).exclude(pk=customer.pk).first()
        if other is not None:
            raise Conflict(PHONE_TAKEN.format(phone=phone, number=other.number))


def customer_get_or_create(*, data: CustomerData, actor: Actor) -> Customer:
    """Inline customers of an order: matched by email/phone, else created."""
    try:
        return customer_create(data=data, actor=actor)
    except CustomerExists as exists:
        return Customer.objects.get(public_id=exists.extra["id"])


def customer_resolve(*, id: str | None = None, number: str | None = None) -> Customer:
    """The customer (not merged away) with this public id or number; NotFound otherwise."""
    found = []
    try:
        if id:
            found = fetch_where(Customer, public_id=id, merged_into__isnull=True, limit=1)
        elif number:
            found = fetch_where(Customer, number=number.strip().upper(), merged_into__isnull=True, limit=1)
    except (ValueError, DjangoValidationError) as exc:
        raise NotFound(CUSTOMER_NOT_FOUND, errors={"customer": [CUSTOMER_NOT_FOUND]}) from exc
    if not found:
        raise NotFound(CUSTOMER_NOT_FOUND, errors={"customer": [CUSTOMER_NOT_FOUND]})
    return found[0]


@dataclass(frozen=True)
class SiteData:
    name: str
    address: str
    city: str = ""
    postcode: str = ""
    country: str = "BG"
    lat: float | None = None
    lon: float | None = None
    address2: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    access_notes: str = ""

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, prefix: str = "") -> SiteData:
        """From an API body, an ERP message or a form's cleaned data (fields named `<prefix><field>`).

        `name` and `address` must be present; other texts may be missing or null (→ ""), the
        country is upper-cased (default BG), the coordinates may be missing (→ None).
        """

        def text(field: str) -> str:
            return data.get(prefix + field) or ""

        return cls(
            name=data[prefix + "name"],
            address=data[prefix + "address"],
            address2=text("address2"),
            city=text("city"),
            postcode=text("postcode"),
            country=(data.get(prefix + "country") or DEFAULT_REGION).upper(),
            lat=data.get(prefix + "lat"),
            lon=data.get(prefix + "lon"),
            contact_name=text("contact_name"),
            contact_phone=text("contact_phone"),
            access_notes=text("access_notes"),
        )


def validate_site_data(data: SiteData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for field in ("name", "address"):
        value = getattr(data, field) or ""
        if not value.strip():
            errors[field] = ["This field is required."]
        elif len(value) > 200:
            errors[field] = ["Ensure this field has no more than 200 characters."]
    for field in ("city", "address2", "contact_name"):
        if len(getattr(data, field) or "") > 200:
            errors[field] = ["Ensure this field has no more than 200 characters."]
    if len(data.postcode or "") > 20:
        errors["postcode"] = ["Ensure this field has no more than 20 characters."]
    if not (data.country or "").isalpha() or len(data.country or "") != 2:
        errors["country"] = ["Use a two-letter country code."]
    if data.lat is not None and not -90 <= data.lat <= 90:
        errors["lat"] = ["Latitude must be between -90 and 90."]
    if data.lon is not None and not -180 <= data.lon <= 180:
        errors["lon"] = ["Longitude must be between -180 and 180."]
    if (data.lat is None) != (data.lon is None):
        errors.setdefault("lat", []).append("Give both lat and lon, or neither.")
    return errors


def site_create(*, customer: Customer, data: SiteData) -> Site:
    site = site_build(customer=customer, data=data)
    site.save(force_insert=True)
    return site


def site_build(*, customer: Customer, data: SiteData) -> Site:
    """A validated, unsaved site (bulk imports save many with one statement)."""
    errors = validate_site_data(data)
    if errors:
        raise ValidationError(errors={"site": errors})
    return Site(
        customer=customer,
        name=data.name.strip(),
        address=data.address.strip(),
        address2=data.address2.strip(),
        city=data.city.strip(),
        postcode=data.postcode.strip(),
        country=data.country.upper(),
        lat=data.lat,
        lon=data.lon,
        contact_name=data.contact_name.strip(),
        contact_phone=normalize_phone(data.contact_phone),
        access_notes=data.access_notes,
    )


def site_update(*, site: Site, data: SiteData) -> Site:
    errors = validate_site_data(data)
    if errors:
        raise ValidationError(errors={"site": errors})
    for field in (
        "name",
        "address",
        "address2",
        "city",
        "postcode",
        "lat",
        "lon",
        "contact_name",
        "access_notes",
    ):
        value = getattr(data, field)
        setattr(site, field, value.strip() if isinstance(value, str) else value)
    site.country = data.country.upper()
    site.contact_phone = normalize_phone(data.contact_phone)
    site.save()
    return site


def site_for_customer(*, customer: Customer, site_id: str) -> Site:
    """An active site of this customer by public id; ValidationError otherwise."""
    try:
        found = fetch_where(Site, public_id=site_id, customer_id=customer.pk, active=True, limit=1)
    except (ValueError, DjangoValidationError) as exc:
        raise ValidationError(SITE_NOT_FOUND, errors={"site": [SITE_NOT_FOUND]}) from exc
    if not found:
        raise ValidationError(SITE_NOT_FOUND, errors={"site": [SITE_NOT_FOUND]})
    return found[0]


def customer_merge_lock(*, survivor: Customer, duplicate: Customer) -> tuple[Customer, Customer]:
    """Lock both customers (in pk order) and check that they can be merged. Call inside a transaction."""
    if survivor.pk == duplicate.pk:
        raise ValidationError("A customer cannot be merged into itself.")
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update()
        .filter(pk__in=[survivor.pk, duplicate.pk])
        .order_by("pk")
    }
    survivor, duplicate = locked[survivor.pk], locked[duplicate.pk]
    if duplicate.merged_into_id or survivor.merged_into_id:
        raise ValidationError("One of these customers was already merged.")
    return survivor, duplicate


@transaction.atomic
def customer_merge(
    *, survivor: Customer, duplicate: Customer, actor: Actor, moved: dict[str, int] | None = None
) -> Customer:
    """Merge `duplicate` into `survivor`: sites, portal users and ERP references move to the survivor,
    which keeps the contact data it lacks; the duplicate is deactivated and points at the survivor.

    The apps above move their own records first (orders, call requests) and pass their counts in
    `moved`, which the customer events record. Use the top-most entry point,
    `fleet.services.customer_merge`, to merge everything."""
    survivor, duplicate = customer_merge_lock(survivor=survivor, duplicate=duplicate)
    now = timezone.now()
    moved_sites = Site.objects.filter(customer=duplicate).update(customer=survivor)
    for access in duplicate.portal_access.all():
        survivor.portal_access.get_or_create(user=access.user)
    duplicate.portal_access.all().delete()
    ct = ContentType.objects.get_for_model(Customer)
    moved_refs = ExternalRef.objects.filter(content_type=ct, object_id=str(duplicate.pk)).update(
        object_id=str(survivor.pk)
    )
    # Keep contact data the survivor lacks; the duplicate keeps none, so uniqueness holds.
    updates = {}
    for field in ("email", "phone", "vat_id"):
        if not getattr(survivor, field) and getattr(duplicate, field):
            updates[field] = getattr(duplicate, field)
    Customer.objects.filter(pk=duplicate.pk).update(merged_into=survivor, active=False, email="", phone="")
    if updates:
        Customer.objects.filter(pk=survivor.pk).update(**updates)
    data = {
        "duplicate": duplicate.number,
        "orders": 0,
        **(moved or {}),
        "sites": moved_sites,
        "erp_refs": moved_refs,
    }
    data.setdefault("call_requests", 0)
    CustomerEvent.objects.create(
        customer=survivor, at=now, type="customer.merged", actor=actor.name, data=data
    )
    CustomerEvent.objects.create(
        customer=duplicate,
        at=now,
        type="customer.merged_into",
        actor=actor.name,
        data={"survivor": survivor.number},
    )
    survivor.refresh_from_db()
    return survivor


def customer_set_credit_hold(*, customer: Customer, hold: bool, actor: Actor, reason: str = "") -> Customer:
    with transaction.atomic():
        updated = Customer.objects.filter(pk=customer.pk).exclude(credit_hold=hold).update(credit_hold=hold)
        if updated:
            CustomerEvent.objects.create(
                customer=customer,
                at=timezone.now(),
                type="customer.credit_hold" if hold else "customer.credit_released",
                actor=actor.name,
                data={"reason": reason},
            )
    customer.refresh_from_db()
    return customer
