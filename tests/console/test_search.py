"""Unified search: one box across orders of every channel, ERP refs, tickets, customers and sites."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.urls import reverse

from console.selectors import console_search
from customers.models import Customer
from fleet.models import Job
from oms.models import ExternalRef
from orders.models import Channel, Order
from tests import factories


@pytest.fixture
def orders(world):
    web = world.place(channel=Channel.WEB, external_ref="")
    kiosk = world.place(channel=Channel.PHONE, external_ref="PO-7781")
    other = factories.CustomerFactory(
        number="C-200002", name="Maria Georgieva", email="maria@example.com", phone="+359877000111"
    )
    theirs = world.place(customer=other, channel=Channel.STOREFRONT, external_ref="POS-1")
    Order.objects.filter(pk=theirs.pk).update(erp_order_number="SAP-4500012345")
    return {"web": web, "phone": kiosk, "other": Order.objects.get(pk=theirs.pk), "other_customer": other}


def numbers(results):
    return [o.number for o in results.orders]


def test_phone_number_in_any_format_finds_the_customer_and_their_orders(world, orders):
    for q in ("+359888123456", "0888 123 456", "0888123456"):
        results = console_search(q=q)
        assert [c.number for c in results.customers] == ["C-100001"]
        assert numbers(results) == [orders["phone"].number, orders["web"].number]
        assert {o.match for o in results.orders} == {"customer"}


# Bulgarian numbers after +359: mobile operators' 87/88/89/98 with 7 digits; landlines of Sofia (2, 7
# digits) and of Plovdiv, Varna and Burgas (32, 52, 56, 6 digits).
PHONE_PLANS = [("87", 7), ("88", 7), ("89", 7), ("98", 7), ("2", 7), ("32", 6), ("52", 6), ("56", 6)]


def bulgarian_numbers(count: int, rng: random.Random) -> list[str]:
    """`count` different valid Bulgarian numbers in E.164, the plans of PHONE_PLANS in turn."""
    found: list[str] = []
    while len(found) < count:
        prefix, length = PHONE_PLANS[len(found) % len(PHONE_PLANS)]
        e164 = f"+359{prefix}{rng.randrange(10 ** (length - 1), 10**length)}"
        if phonenumbers.is_valid_number(phonenumbers.parse(e164)) and e164 not in found:
            found.append(e164)
    return found


@pytest.fixture
def phone_book(db) -> dict[str, str]:
    """200 customers with random Bulgarian numbers (seeded): E.164 → customer number."""
    phones = bulgarian_numbers(200, random.Random(359))
    Customer.objects.bulk_create(
        Customer(number=f"C-7{i:05d}", name=f"Caller {i}", email=f"caller{i}@example.com", phone=phone)
        for i, phone in enumerate(phones)
    )
    return {str(c.phone): c.number for c in Customer.objects.filter(number__startswith="C-7")}


def customers_found(q: str) -> list[str]:
    return [c.number for c in console_search(q=q).customers]


@pytest.mark.parametrize("digits", [6, 7, 8])
def test_the_last_digits_of_a_phone_number_find_the_customer(phone_book, digits):
    missed = [phone for phone, number in phone_book.items() if number not in customers_found(phone[-digits:])]
    assert missed == []


def national(e164: str) -> str:
    return "0" + e164.removeprefix("+359")


def spaced(e164: str) -> str:
    """As printed: "+359 88 252 3283" (the area code, then groups of three)."""
    return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL)


@pytest.mark.parametrize(
    "written",
    [
        lambda e164: e164,
        national,
        lambda e164: spaced(e164),
        lambda e164: "0" + spaced(e164).removeprefix("+359 "),
        lambda e164: "00" + e164.removeprefix("+"),
    ],
    ids=["e164", "national", "international spaced", "national spaced", "00 prefix"],
)
def test_a_whole_phone_number_in_any_format_finds_the_customer_first(phone_book, written):
    # Every fifth number (40 of them): all 200 in every format would add minutes to the suite.
    sample = sorted(phone_book)[::5]
    missed = [phone for phone in sample if customers_found(written(phone))[:1] != [phone_book[phone]]]
    assert missed == []


def test_a_number_the_phone_library_rejects_is_found_in_national_format(db):
    # As the demo data stores some numbers (and an ERP may send them).
    factories.CustomerFactory(number="C-800001", phone="+359851012345")
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+359851012345"))

    assert customers_found("0851 012 345") == ["C-800001"]
    assert customers_found("012345") == ["C-800001"]


def test_exact_order_number_ranks_first(world, orders):
    results = console_search(q=orders["web"].number.lower())
    assert numbers(results)[0] == orders["web"].number
    assert results.orders[0].match == "exact"


def test_external_ref_and_erp_order_number_and_partial(world, orders):
    assert numbers(console_search(q="PO-7781")) == [orders["phone"].number]
    assert numbers(console_search(q="SAP-4500012345")) == [orders["other"].number]
    partial = console_search(q="4500012")
    assert numbers(partial) == [orders["other"].number]
    assert partial.orders[0].match == "partial"


def test_ticket_finds_the_job_and_its_order(world, orders):
    Job.objects.create(plant=world.plant, order=orders["web"], ticket="TK-000777")
    results = console_search(q="tk-000777")
    assert [j.ticket for j in results.jobs] == ["TK-000777"]
    assert results.jobs[0].order == orders["web"]


def test_customer_by_email_name_number_and_site(world, orders):
    assert [c.number for c in console_search(q="MARIA@example.com").customers] == ["C-200002"]
    assert [c.number for c in console_search(q="georgiev").customers] == ["C-200002"]
    assert [c.number for c in console_search(q="C-200002").customers] == ["C-200002"]
    results = console_search(q="Cherni Vrah")
    assert [s.name for s in results.sites] == ["Lozenets house"]


def test_erp_reference_of_any_system_finds_the_customer_and_order(world, orders):
    sap = factories.ErpSystemFactory(code="SAP")
    navision = factories.ErpSystemFactory(code="NAV")
    ExternalRef.objects.create(
        system=sap,
        entity_type="customer",
        external_id="D-0042",
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(world.customer.pk),
    )
    ExternalRef.objects.create(
        system=navision,
        entity_type="order",
        external_id="NAV-SO-991",
        content_type=ContentType.objects.get_for_model(Order),
        object_id=str(orders["web"].pk),
    )
    assert [c.number for c in console_search(q="D-0042").customers] == ["C-100001"]
    results = console_search(q="NAV-SO-991")
    assert numbers(results) == [orders["web"].number]
    assert results.orders[0].match == "erp_ref"


def test_short_or_empty_query_does_no_substring_scan(world, orders):
    assert console_search(q="").total == 0
    assert console_search(q="Iv").total == 0


def test_merged_customers_are_not_found(world, orders):
    Customer.objects.filter(pk=orders["other_customer"].pk).update(merged_into=world.customer)
    assert console_search(q="maria@example.com").customers == []


def test_search_page_lists_results_with_links(world, orders, rep_client):
    response = rep_client.get(reverse("admin:console-search"), {"q": "0888123456"})
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:console-order", args=[orders["phone"].pk]) in html
    assert reverse("admin:console-customer", args=[world.customer.pk]) in html
    assert "3 results for" in html


def test_trigram_indexes_exist_on_postgresql(db):
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'console_%%_trgm' ORDER BY 1")
        names = [row[0] for row in cursor.fetchall()]
    assert names == [
        "console_customer_email_trgm",
        "console_customer_name_trgm",
        "console_customer_number_trgm",
        "console_customer_phone_trgm",
        "console_extref_id_trgm",
        "console_job_ticket_trgm",
        "console_order_erpnum_trgm",
        "console_order_extref_trgm",
        "console_order_number_trgm",
        "console_site_address_trgm",
        "console_site_city_trgm",
        "console_site_name_trgm",
    ]
