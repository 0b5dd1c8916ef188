"""Every bad input of the contract → 400/422 problem+json, and nothing is written."""

from __future__ import annotations

import pytest

from oms.lib.idempotency import INVALID_KEY_MESSAGE
from tests.api.conftest import counts, order_body, place

pytestmark = pytest.mark.django_db

HUGE = "x" * 100_000


def line(sku="C25-30", quantity="1.000"):
    return {"sku": sku, "quantity": quantity}


def site(**overrides):
    return {**order_body()["site"], **overrides}


BAD_ORDERS = {
    "no lines": order_body(lines=[]),
    "101 lines": order_body(lines=[line() for _ in range(101)]),
    "lines not a list": order_body(lines="C25-30"),
    "line not an object": order_body(lines=["C25-30"]),
    "4-decimal quantity": order_body(lines=[line(quantity="1.0001")]),
    "zero quantity": order_body(lines=[line(quantity="0")]),
    "negative quantity": order_body(lines=[line(quantity="-1")]),
    "NaN quantity": order_body(lines=[line(quantity="NaN")]),
    "infinite quantity": order_body(lines=[line(quantity="Infinity")]),
    "huge quantity": order_body(lines=[line(quantity="1e20")]),
    "quantity a word": order_body(lines=[line(quantity="eight")]),
    "quantity a list": order_body(lines=[{"sku": "C25-30", "quantity": [1]}]),
    "unknown sku": order_body(lines=[line(sku="NOPE")]),
    "inactive sku": order_body(lines=[line(sku="OLD-1")]),
    "huge sku": order_body(lines=[line(sku=HUGE)]),
    "sku a number": order_body(lines=[{"sku": 42, "quantity": "1"}]),
    "no customer": {k: v for k, v in order_body().items() if k != "customer"},
    "customer not an object": order_body(customer="C-000042"),
    "customer empty": order_body(customer={}),
    "customer id and number": order_body(
        customer={"id": "6e0b6f9c-1c50-4a4e-9a0e-8f1e0f3b2a11", "number": "C-1"}
    ),
    "customer id not a uuid": order_body(customer={"id": "42"}),
    "inline customer huge name": order_body(customer={"name": HUGE, "email": "a@example.com"}),
    "inline customer bad email": order_body(customer={"name": "A", "email": "not-an-email"}),
    "inline customer bad phone": order_body(customer={"name": "A", "phone": "12"}),
    "delivery without site": order_body(site=None),
    "site without address": order_body(site={"name": "Block 7"}),
    "site id not a uuid": order_body(site={"id": "x"}),
    "unknown site id": order_body(site={"id": "6e0b6f9c-1c50-4a4e-9a0e-8f1e0f3b2a11"}),
    "latitude 91": order_body(site=site(lat=91)),
    "longitude -181": order_body(site=site(lon=-181.5)),
    "latitude NaN string": order_body(site=site(lat="NaN")),
    "latitude a word": order_body(site=site(lat="north")),
    "lat without lon": order_body(site=site(lon=None)),
    "site name 201 chars": order_body(site=site(name="n" * 201)),
    "site address huge": order_body(site=site(address=HUGE)),
    "country three letters": order_body(site=site(country="BGR")),
    "fulfilment unknown": order_body(fulfilment="teleport"),
    "requested_date in the past": order_body(requested_date="2000-01-01"),
    "requested_date garbage": order_body(requested_date="tomorrow"),
    "window inverted": order_body(window={"from": "10:00", "to": "08:00"}),
    "window garbage": order_body(window={"from": "25:99", "to": "26:00"}),
    "on_call a string": order_body(on_call="maybe"),
    "external_ref 101 chars": order_body(external_ref="r" * 101),
    "notes 2001 chars": order_body(notes="n" * 2001),
    "notes with NUL": order_body(notes="a\x00b"),
    "body a list": [order_body()],
    "body a string": "order",
}


@pytest.fixture
def catalog(cement, customer):
    from tests.factories import ProductFactory

    ProductFactory(sku="OLD-1", active=False)


@pytest.mark.parametrize("body", BAD_ORDERS.values(), ids=BAD_ORDERS.keys())
def test_bad_order_is_400_problem_and_writes_nothing(api_a, catalog, body):
    before = counts()

    response = place(api_a, body, key="bad-input")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid"
    assert response.json()["status"] == 400
    assert counts() == before


@pytest.mark.parametrize(
    "content, content_type",
    [
        (b'{"customer": ', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
        (b'{"a": NaN}', "application/json"),
        (b"customer=C-000042", "application/x-www-form-urlencoded"),
        (b"<order/>", "application/xml"),
        (b"null", "application/json"),
        (b"", "application/json"),
    ],
    ids=["truncated JSON", "not UTF-8", "NaN literal", "form encoded", "XML", "null", "empty"],
)
def test_non_json_body_is_4xx_problem_and_writes_nothing(api_a, catalog, content, content_type):
    before = counts()

    response = api_a.generic(
        "POST", "/api/v1/orders/", content, content_type=content_type, HTTP_IDEMPOTENCY_KEY="bad-body"
    )

    assert response.status_code in (400, 415), response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] in ("invalid", "unsupported_media_type")
    assert counts() == before


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "tab\tkey", "ключ"])
def test_malformed_idempotency_key_is_400(api_a, catalog, key):
    before = counts()

    response = api_a.post(
        "/api/v1/orders/", order_body(), format="json", HTTP_IDEMPOTENCY_KEY=key.encode().decode("latin-1")
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert counts() == before


def test_a_malformed_key_is_refused_before_the_body_is_looked_at(api_a, catalog):
    """A bad key and a bad body: the answer names the key (the body's errors would come from a request
    that then could never be retried under that key)."""
    before = counts()

    response = api_a.post(
        "/api/v1/orders/", {"lines": "not a list"}, format="json", HTTP_IDEMPOTENCY_KEY="has space"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"Idempotency-Key": [INVALID_KEY_MESSAGE]}
    assert counts() == before


def test_reused_key_with_other_body_is_422_and_writes_nothing(api_a, catalog):
    assert place(api_a, key="k").status_code == 201
    before = counts()

    response = place(api_a, order_body(lines=[line(quantity="2.000")]), key="k")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert counts() == before


BAD_CUSTOMERS = {
    "no name": {"kind": "person"},
    "no kind": {"name": "A"},
    "kind unknown": {"name": "A", "kind": "robot"},
    "name huge": {"name": HUGE, "kind": "person"},
    "name blank": {"name": "  ", "kind": "person"},
    "email bad": {"name": "A", "kind": "person", "email": "@"},
    "phone bad": {"name": "A", "kind": "person", "phone": "abc"},
    "name a number": {"name": 42, "kind": "person", "vat_id": ["x"]},
    "body a list": [{"name": "A", "kind": "person"}],
}


@pytest.mark.parametrize("body", BAD_CUSTOMERS.values(), ids=BAD_CUSTOMERS.keys())
def test_bad_customer_is_400_and_writes_nothing(api_a, catalog, body):
    before = counts()

    response = api_a.post("/api/v1/customers/", body, format="json", HTTP_IDEMPOTENCY_KEY="bad-customer")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [{"phone": "abc"}, {"email": "x"}, {"number": HUGE}, {"phone": "+359888123456", "email": "a@b.co"}, []],
    ids=["bad phone", "bad email", "huge number", "two identifiers", "a list"],
)
def test_bad_lookup_is_400(api_a, catalog, body):
    response = api_a.post("/api/v1/customers/lookup/", body, format="json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "r" * 201}, {"reason": ["x"]}])
def test_bad_cancel_is_400_and_changes_nothing(api_a, placed_order, body):
    response = api_a.post(f"/api/v1/orders/{placed_order.number}/cancel/", body, format="json")

    placed_order.refresh_from_db()
    assert response.status_code == 400
    assert placed_order.status == "placed"


@pytest.mark.parametrize(
    "query",
    [
        {"status": "nope"},
        {"created_after": "yesterday"},
        {"created_before": "2026-13-45"},
        {"cursor": "garbage"},
    ],
)
def test_bad_order_list_queries_are_4xx(api_a, placed_order, query):
    response = api_a.get("/api/v1/orders/", query)

    assert response.status_code in (400, 404), response.content
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("query", [{"unit": "parsec"}, {"page": "0"}, {"page": "x"}, {"search": HUGE}])
def test_bad_product_queries_are_4xx(api_a, cement, query):
    response = api_a.get("/api/v1/products/", query)

    assert response.status_code in (400, 404), response.content
    assert response["Content-Type"] == "application/problem+json"
