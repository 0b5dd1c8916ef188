"""Customer identity across channels: matching, creation, sites, merging duplicates, credit hold."""

from __future__ import annotations

import threading

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from customers.models import Customer, CustomerEvent, PortalAccess, Site
from customers.services import (
    CUSTOMER_NOT_FOUND,
    INVALID_NAME,
    INVALID_PHONE,
    CustomerData,
    SiteData,
    customer_create,
    customer_get_or_create,
    customer_match,
    customer_resolve,
    customer_set_credit_hold,
    normalize_phone,
    site_create,
    site_update,
)
from fleet.models import CallRequest
from fleet.services.customers import customer_merge
from oms.exceptions import CustomerExists, NotFound, ValidationError
from oms.lib.actors import Actor
from oms.models import ExternalRef

REP = Actor(kind="user", name="maria", channel="phone")
KIOSK = Actor(kind="device", name="kiosk-1", channel="kiosk")


def customer_events():
    return list(CustomerEvent.objects.order_by("pk").values_list("customer__number", "type", "actor", "data"))


# --- matching ------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "identifiers",
    [
        {"number": " c-100001 "},
        {"email": "IVAN@Example.COM"},
        {"email": " ivan@example.com "},
        {"phone": "0888 123 456"},
        {"phone": "+359 888 123 456"},
        {"phone": "00359888123456"},
        {"email": "someone-else@example.com", "phone": "088-812-3456"},
    ],
)
def test_match_finds_the_customer_by_any_identifier(customer_factory, identifiers):
    customer = customer_factory(
        number="C-100001", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
    )
    assert customer_match(**identifiers) == customer


@pytest.mark.django_db
def test_match_finds_a_customer_whose_stored_email_has_capitals(customer_factory):
    stored = customer_factory(email="Maria.Ivanova@Example.com")

    assert customer_match(email="maria.ivanova@example.COM") == stored


@pytest.mark.django_db
def test_match_prefers_number_then_email_then_phone(customer, customer_factory):
    other = customer_factory(number="C-100002", email="other@example.com", phone="+359888000777")

    assert customer_match(number="C-100002", email="ivan@example.com") == other
    assert customer_match(email="ivan@example.com", phone="+359888000777") == customer
    assert customer_match(number="C-999999", phone="+359888000777") == other


@pytest.mark.django_db
def test_match_ignores_merged_customers_and_unknown_identifiers(customer, customer_factory):
    merged = customer_factory(number="C-100009", merged_into=customer, active=False, email="", phone="")

    assert customer_match(number=merged.number) is None
    assert customer_match(email="nobody@example.com", phone="+359888999999") is None
    assert customer_match() is None


@pytest.mark.django_db
def test_match_with_a_garbage_phone_is_a_validation_error(customer):
    with pytest.raises(ValidationError) as raised:
        customer_match(phone="call me")

    assert raised.value.errors == {"phone": [INVALID_PHONE]}


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("0888 123 456", "+359888123456"),
        ("+359 (888) 123-456", "+359888123456"),
        ("+1 650 253 0000", "+16502530000"),
        ("", ""),
        (None, ""),
    ],
)
def test_phones_are_normalised_to_e164(raw, e164):
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "+359 1", "not a phone"])
def test_invalid_phones_are_refused(raw):
    with pytest.raises(ValidationError) as raised:
        normalize_phone(raw)

    assert raised.value.errors == {"phone": [INVALID_PHONE]}


# --- creation ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_normalises_contact_data_and_writes_an_event():
    created = customer_create(
        data=CustomerData(
            name="  Stroy OOD ",
            email=" Office@Stroy.BG ",
            phone="0888 555 111",
            kind=Customer.Kind.COMPANY,
            vat_id=" BG123456789 ",
            language="bg",
        ),
        actor=KIOSK,
    )

    stored = Customer.objects.get()
    assert stored == created
    assert (stored.name, stored.email, str(stored.phone), stored.kind, stored.vat_id, stored.language) == (
        "Stroy OOD",
        "office@stroy.bg",
        "+359888555111",
        "company",
        "BG123456789",
        "bg",
    )
    assert stored.number.startswith("C-") and len(stored.number) == 8
    assert customer_events() == [(stored.number, "customer.created", "kiosk-1", {})]


@pytest.mark.django_db
def test_create_skips_numbers_taken_outside_the_sequence(customer_factory):
    # Imported customers may already hold the next numbers of the sequence.
    from oms.lib.sequences import next_value

    upcoming = next_value("customer_number") + 1
    customer_factory(number=f"C-{upcoming:06d}", email="a@example.com", phone="")
    customer_factory(number=f"C-{upcoming + 1:06d}", email="b@example.com", phone="")

    created = customer_create(data=CustomerData(name="New One", email="new@example.com"), actor=KIOSK)

    assert created.number == f"C-{upcoming + 2:06d}"
    assert Customer.objects.filter(email="new@example.com").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        CustomerData(name="Ivan", email="IVAN@EXAMPLE.COM"),
        CustomerData(name="Ivan", phone="0888123456"),
        CustomerData(name="Ivan", email="new@example.com", phone="+359 888 123 456"),
    ],
)
def test_create_with_a_known_email_or_phone_is_customer_exists(customer, data):
    with pytest.raises(CustomerExists) as raised:
        customer_create(data=data, actor=KIOSK)

    assert raised.value.extra == {"id": str(customer.public_id)}
    assert (raised.value.status, raised.value.code) == (409, "customer_exists")
    assert Customer.objects.count() == 1
    assert customer_events() == []


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_create_needs_a_name(name):
    with pytest.raises(ValidationError) as raised:
        customer_create(data=CustomerData(name=name, email="a@example.com"), actor=KIOSK)

    assert raised.value.errors == {"name": [INVALID_NAME]}
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_create_with_an_invalid_phone_creates_nothing():
    with pytest.raises(ValidationError) as raised:
        customer_create(data=CustomerData(name="Ivan", phone="12345"), actor=KIOSK)

    assert raised.value.errors == {"phone": [INVALID_PHONE]}
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_get_or_create_returns_the_match_or_a_new_customer(customer):
    assert (
        customer_get_or_create(data=CustomerData(name="X", email="Ivan@Example.com"), actor=KIOSK) == customer
    )

    new = customer_get_or_create(data=CustomerData(name="Georgi", email="georgi@example.com"), actor=KIOSK)

    assert new != customer
    assert Customer.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_with_one_email_create_one_customer():
    barrier = threading.Barrier(10)
    outcomes: list[object] = []
    lock = threading.Lock()

    def register(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            try:
                result: object = customer_create(
                    data=CustomerData(
                        name=f"Ivan {i}", email="IVAN@example.com" if i % 2 else "ivan@EXAMPLE.com"
                    ),
                    actor=KIOSK,
                )
            except CustomerExists as exc:
                result = exc
            with lock:
                outcomes.append(result)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winner = Customer.objects.get()
    assert winner.email == "ivan@example.com"
    assert [o for o in outcomes if isinstance(o, Customer)] == [winner]
    losers = [o for o in outcomes if isinstance(o, CustomerExists)]
    assert len(losers) == 9
    assert {loser.extra["id"] for loser in losers} == {str(winner.public_id)}
    assert CustomerEvent.objects.count() == 1


@pytest.mark.django_db
def test_resolve_by_id_or_number(customer_factory):
    customer = customer_factory(number="C-100001")
    assert customer_resolve(id=str(customer.public_id)) == customer
    assert customer_resolve(number="c-100001") == customer

    for bad in ({"id": "not-a-uuid"}, {"number": "C-404"}, {}):
        with pytest.raises(NotFound) as raised:
            customer_resolve(**bad)
        assert raised.value.errors == {"customer": [CUSTOMER_NOT_FOUND]}


# --- sites ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_site_create_strips_and_normalises(customer):
    site = site_create(
        customer=customer,
        data=SiteData(
            name=" Yard ",
            address=" 5 Main St ",
            city=" Sofia ",
            country="bg",
            lat=42.7,
            lon=23.3,
            contact_phone="0888 555 111",
        ),
    )

    stored = Site.objects.get()
    assert stored == site
    assert (stored.name, stored.address, stored.city, stored.country, str(stored.contact_phone)) == (
        "Yard",
        "5 Main St",
        "Sofia",
        "BG",
        "+359888555111",
    )
    assert site.snapshot() == {
        "name": "Yard",
        "address": "5 Main St",
        "address2": "",
        "city": "Sofia",
        "postcode": "",
        "country": "BG",
        "lat": 42.7,
        "lon": 23.3,
    }


@pytest.mark.django_db
def test_site_validation_reports_every_field(customer):
    with pytest.raises(ValidationError) as raised:
        site_create(
            customer=customer,
            data=SiteData(name="", address="x" * 201, country="BGR", lat=91.0, postcode="1" * 21),
        )

    assert raised.value.errors == {
        "site": {
            "name": ["This field is required."],
            "address": ["Ensure this field has no more than 200 characters."],
            "postcode": ["Ensure this field has no more than 20 characters."],
            "country": ["Use a two-letter country code."],
            "lat": ["Latitude must be between -90 and 90.", "Give both lat and lon, or neither."],
        }
    }
    assert Site.objects.count() == 0


@pytest.mark.django_db
def test_site_update_changes_the_fields(customer, site_factory):
    site = site_factory(customer=customer)

    site_update(site=site, data=SiteData(name="New name", address="7 Other St", lat=None, lon=None))

    site.refresh_from_db()
    assert (site.name, site.address, site.lat, site.lon, site.country) == (
        "New name",
        "7 Other St",
        None,
        None,
        "BG",
    )


# --- merging duplicates -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_merge_moves_orders_sites_users_and_erp_refs_to_the_survivor(
    customer_factory, site_factory, order_factory, user_factory, erp_system_factory
):
    survivor = customer_factory(number="C-000001", email="", phone="+359888000001")
    duplicate = customer_factory(
        number="C-000002", email="Dup@Example.com", phone="+359888000002", vat_id="BG1"
    )
    orders = [order_factory(customer=duplicate), order_factory(customer=duplicate)]
    kept_order = order_factory(customer=survivor)
    site = site_factory(customer=duplicate)
    shared_user, own_user = user_factory(username="shared"), user_factory(username="own")
    PortalAccess.objects.create(customer=survivor, user=shared_user)
    PortalAccess.objects.create(customer=duplicate, user=shared_user)
    PortalAccess.objects.create(customer=duplicate, user=own_user)
    ref = ExternalRef.objects.create(
        system=erp_system_factory(code="SAP1"),
        entity_type="customer",
        external_id="100042",
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(duplicate.pk),
    )

    call = CallRequest.objects.create(
        customer=duplicate,
        requested_by_role="customer",
        reason="Call me",
        due_at=timezone.now(),
        created_at=timezone.now(),
    )

    merged = customer_merge(survivor=survivor, duplicate=duplicate, actor=REP)

    duplicate.refresh_from_db()
    call.refresh_from_db()
    assert call.customer_id == survivor.pk
    assert merged.pk == survivor.pk
    assert sorted(merged.orders.values_list("pk", flat=True)) == sorted(o.pk for o in [*orders, kept_order])
    assert list(merged.sites.values_list("pk", flat=True)) == [site.pk]
    assert sorted(merged.portal_access.values_list("user__username", flat=True)) == ["own", "shared"]
    assert PortalAccess.objects.filter(customer=duplicate).count() == 0
    ref.refresh_from_db()
    assert ref.object_id == str(survivor.pk)
    # The survivor keeps its phone and gains the email and VAT id it lacked.
    assert (merged.email, str(merged.phone), merged.vat_id) == ("Dup@Example.com", "+359888000001", "BG1")
    assert (duplicate.merged_into_id, duplicate.active, duplicate.email, str(duplicate.phone)) == (
        survivor.pk,
        False,
        "",
        "",
    )
    assert customer_events() == [
        (
            "C-000001",
            "customer.merged",
            "maria",
            {"duplicate": "C-000002", "orders": 2, "sites": 1, "erp_refs": 1, "call_requests": 1},
        ),
        ("C-000002", "customer.merged_into", "maria", {"survivor": "C-000001"}),
    ]
    # Each moved order says so on its timeline (staff-only) and has a new version.
    for order in orders:
        before = order.version
        order.refresh_from_db()
        assert order.version == before + 1
        assert list(
            order.events.filter(type="order.customer_merged").values_list("data", "visible_to_customer")
        ) == [({"from": "C-000002", "to": "C-000001"}, False)]
    assert not kept_order.events.filter(type="order.customer_merged").exists()
    # Identity lookups now land on the survivor.
    assert customer_match(email="dup@example.com") == merged
    assert customer_match(number="C-000002") is None


@pytest.mark.django_db
def test_merge_refuses_itself_and_already_merged_customers(customer_factory):
    a, b, c = customer_factory(), customer_factory(), customer_factory()
    customer_merge(survivor=a, duplicate=b, actor=REP)
    events_before = customer_events()

    with pytest.raises(ValidationError) as itself:
        customer_merge(survivor=a, duplicate=a, actor=REP)
    with pytest.raises(ValidationError) as again:
        customer_merge(survivor=c, duplicate=b, actor=REP)

    assert itself.value.detail == "A customer cannot be merged into itself."
    assert again.value.detail == "One of these customers was already merged."
    assert customer_events() == events_before
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk


# --- credit hold -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_credit_hold_is_recorded_once_per_change(customer_factory):
    customer = customer_factory(number="C-100001")
    customer_set_credit_hold(customer=customer, hold=True, actor=REP, reason="Unpaid invoices")
    customer_set_credit_hold(customer=customer, hold=True, actor=REP, reason="Again")
    released = customer_set_credit_hold(customer=customer, hold=False, actor=REP)

    assert released.credit_hold is False
    assert customer_events() == [
        ("C-100001", "customer.credit_hold", "maria", {"reason": "Unpaid invoices"}),
        ("C-100001", "customer.credit_released", "maria", {"reason": ""}),
    ]
