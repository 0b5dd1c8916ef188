"""Who may call what: every /api/v1/ URL pattern × method × caller, generated from the URL conf.

A new endpoint without an entry in MATRIX fails `test_every_api_pattern_has_a_matrix_entry`.
Entries are keyed by URL pattern name. Callers: anonymous, device key of sales point A (owner of
the order in play), device key of sales point B, driver key. Expectations: an HTTP status, or OK
(authorized: any answer but 401/403/5xx; the request itself may be incomplete).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from orders.models import Order
from tests.helpers import token_client

pytestmark = pytest.mark.django_db

OK = "ok"
CALLERS = ("anonymous", "device_b", "driver", "device_a")  # A last: its POSTs may change the order
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Rule:
    anonymous: int | str
    device_a: int | str
    device_b: int | str
    driver: int | str


PUBLIC = Rule(anonymous=200, device_a=200, device_b=200, driver=200)
DEVICE = Rule(anonymous=401, device_a=OK, device_b=OK, driver=403)
DEVICE_OWN_ORDER = Rule(anonymous=401, device_a=OK, device_b=404, driver=403)
DRIVER = Rule(anonymous=401, device_a=403, device_b=403, driver=OK)
# ERP push: no token auth; without an HMAC signature everyone gets 401.
SIGNED_WEBHOOK = Rule(anonymous=401, device_a=401, device_b=401, driver=401)


@dataclass(frozen=True)
class Entry:
    methods: dict[str, Rule]
    kwargs: str = ""  # which URL arguments the pattern takes (see url_kwargs)
    body: dict = field(default_factory=dict)


MATRIX: dict[str, Entry] = {
    # schema and docs (public, read-only)
    "api-schema": Entry({"GET": PUBLIC}),
    "api-docs": Entry({"GET": PUBLIC}),
    # kiosk / storefront (this module's owner: orders.api)
    "product-list": Entry({"GET": DEVICE}),
    "product-detail": Entry({"GET": DEVICE}, kwargs="sku"),
    "product-availability": Entry({"GET": DEVICE}, kwargs="sku"),
    "customer-list": Entry({"POST": DEVICE}),
    "customer-lookup": Entry({"POST": DEVICE}, body={"number": "C-000042"}),
    "order-list": Entry({"GET": DEVICE, "POST": DEVICE}),
    "order-detail": Entry({"GET": DEVICE_OWN_ORDER}, kwargs="number"),
    "order-cancel": Entry({"POST": DEVICE_OWN_ORDER}, kwargs="number", body={"reason": "matrix"}),
    "order-call-off": Entry({"POST": DEVICE_OWN_ORDER}, kwargs="number", body={}),
    "order-pause": Entry({"POST": DEVICE_OWN_ORDER}, kwargs="number", body={"reason": "matrix"}),
    "order-resume": Entry({"POST": DEVICE_OWN_ORDER}, kwargs="number", body={}),
    "tracking-detail": Entry({"GET": PUBLIC}, kwargs="token"),
    # driver app (fleet.api): driver keys only; another driver's job is 404
    "driver-tours": Entry({"GET": DRIVER}),
    "driver-job": Entry({"GET": DRIVER}, kwargs="job_id"),
    "driver-job-events": Entry({"POST": DRIVER}, kwargs="job_id"),
    "driver-job-epod": Entry({"POST": DRIVER}, kwargs="job_id"),
    "driver-job-batch-data": Entry({"POST": DRIVER}, kwargs="job_id"),
    "driver-positions": Entry({"POST": DRIVER}),
    "driver-messages": Entry({"GET": DRIVER, "POST": DRIVER}),
    "driver-message-read": Entry({"POST": DRIVER}, kwargs="message_id"),
    "driver-call-requests": Entry({"POST": DRIVER}),
    "driver-epod-pdf": Entry({"GET": DRIVER}, kwargs="epod_id"),
    # ERP push webhook (erp_sync.api)
    "erp-messages": Entry({"POST": SIGNED_WEBHOOK}, kwargs="system", body={"messages": []}),
}


def api_patterns() -> list[tuple[str, str | None]]:
    """(route, name) of every URL pattern under /api/v1/."""
    found: list[tuple[str, str | None]] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                found.append((route, pattern.name))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_pattern_has_a_matrix_entry():
    patterns = api_patterns()
    missing = sorted(f"{name} ({route})" for route, name in patterns if name not in MATRIX)
    stale = sorted(set(MATRIX) - {name for _, name in patterns})

    assert patterns, "no /api/v1/ patterns found"
    assert not missing, f"add these URL patterns to MATRIX: {missing}"
    assert not stale, f"MATRIX names patterns that no longer exist: {stale}"


@pytest.fixture
def api_world(api_a, key_a, key_b, key_driver, placed_order):
    return {
        "clients": {
            "anonymous": token_client(None),
            "device_a": token_client(key_a),
            "device_b": token_client(key_b),
            "driver": token_client(key_driver),
        },
        "order": placed_order,
    }


def url_kwargs(kind: str, order: Order) -> dict[str, str]:
    return {
        "": {},
        "sku": {"sku": "C25-30"},
        "number": {"number": order.number},
        "token": {"token": order.tracking_token},
        "job_id": {"job_id": str(uuid.uuid4())},
        "epod_id": {"epod_id": str(uuid.uuid4())},
        "message_id": {"message_id": str(uuid.uuid4())},
        "system": {"system": "ERP1"},
    }[kind]


def call(client, method: str, url: str, body: dict):
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, data=json.dumps(body), content_type="application/json")


def check(expected, response, where: str) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code} {response.content[:300]!r}"
    if expected == OK:
        assert response.status_code not in (401, 403), f"{where}: {response.status_code}"
    else:
        assert response.status_code == expected, f"{where}: {response.status_code} {response.content[:300]!r}"
    if response.status_code >= 400 and response.status_code != 405:
        assert response["Content-Type"].startswith("application/problem+json"), where


CASES = [(name, method) for name, entry in MATRIX.items() for method in entry.methods]


@pytest.mark.parametrize(("name", "method"), CASES, ids=[f"{n} {m}" for n, m in CASES])
def test_callers_get_what_the_matrix_says(api_world, name, method):
    entry = MATRIX[name]
    try:
        url = reverse(name, kwargs=url_kwargs(entry.kwargs, api_world["order"]))
    except Exception:  # noqa: BLE001 - an entry for an endpoint that another app has not mounted yet
        pytest.fail(f"{name} is in MATRIX but cannot be reversed")
    rule = entry.methods[method]
    for caller in CALLERS:
        response = call(api_world["clients"][caller], method, url, entry.body)
        check(getattr(rule, caller), response, f"{caller} {method} {url}")


@pytest.mark.parametrize("name", list(MATRIX), ids=list(MATRIX))
def test_methods_outside_the_matrix_are_refused(api_world, name):
    entry = MATRIX[name]
    url = reverse(name, kwargs=url_kwargs(entry.kwargs, api_world["order"]))
    for method in METHODS:
        if method in entry.methods:
            continue
        for caller in CALLERS:
            response = call(api_world["clients"][caller], method, url, entry.body)
            assert response.status_code in (401, 403, 404, 405), (
                f"{caller} {method} {url}: {response.status_code}"
            )


def test_lists_leak_no_foreign_rows(api_world):
    a, b = api_world["clients"]["device_a"], api_world["clients"]["device_b"]

    mine = a.get("/api/v1/orders/").json()["results"]
    theirs = b.get("/api/v1/orders/").json()["results"]
    searched = b.get("/api/v1/orders/", {"external_ref": api_world["order"].external_ref}).json()["results"]

    assert [o["number"] for o in mine] == [api_world["order"].number]
    assert theirs == []
    assert searched == []


def test_revoked_and_unknown_keys_are_401_authentication_failed(api_world, key_a):
    from orders.models import ApiClient
    from orders.services.clients import api_client_revoke, hash_key

    api_client_revoke(client=ApiClient.objects.get(key_hash=hash_key(key_a)))

    for key in (key_a, "unknown-key"):
        response = token_client(key).get("/api/v1/products/")
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_failed"
    anonymous = api_world["clients"]["anonymous"].get("/api/v1/products/")
    assert anonymous.json()["code"] == "not_authenticated"
    driver = api_world["clients"]["driver"].get("/api/v1/products/")
    assert (driver.status_code, driver.json()["code"]) == (403, "permission_denied")


def test_a_key_resolves_to_its_client_with_what_the_views_read(
    key_a, key_driver, sales_point_a, driver, django_assert_num_queries
):
    from fleet.models import Driver
    from orders.api.auth import _active_client
    from orders.services.clients import api_client_revoke, hash_key

    with django_assert_num_queries(1):  # client, sales point and plant in one statement
        device = _active_client(hash_key(key_a))
    with django_assert_num_queries(0):
        assert (device.sales_point.code, device.sales_point.plant.code) == (
            sales_point_a.code,
            sales_point_a.plant.code,
        )
    with django_assert_num_queries(1):
        own = _active_client(hash_key(key_driver))
    assert (own.kind, own.sales_point) == ("driver", None)
    with django_assert_num_queries(1):  # the driver API reads the key's driver once per request
        assert Driver.objects.get(keys__client=own).pk == driver.pk

    api_client_revoke(client=device)
    assert _active_client(hash_key(key_a)) is None
    assert _active_client(hash_key("never-issued")) is None
