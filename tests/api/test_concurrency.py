"""HTTP-level races on PostgreSQL: threads with their own connections through the Django client."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client, override_settings

from catalog.models import StockLevel
from orders.models import Order
from tests.api.conftest import order_body

pytestmark = [pytest.mark.django_db(transaction=True)]


def race(key: str, bodies_and_keys: list[tuple[dict, str]], workers: int = 20):
    """POST every (body, Idempotency-Key) at once from `workers` threads; returns the responses."""
    barrier = threading.Barrier(workers)

    def post(item):
        body, idem = item
        client = Client(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            with contextlib.suppress(threading.BrokenBarrierError):  # fewer items left than workers
                barrier.wait(timeout=10)
            return client.post(
                "/api/v1/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=idem
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(post, bodies_and_keys))


@pytest.fixture
def last_ten_units(cement):
    StockLevel.objects.filter(product=cement).update(on_hand=Decimal("10.000"), allocated=Decimal("0.000"))
    return cement


@override_settings(OMS_ORDER_RATE_PER_MINUTE=1000)
def test_last_ten_units_forty_buyers_exactly_ten_orders(key_a, customer, last_ten_units):
    body = order_body(lines=[{"sku": "C25-30", "quantity": "1.000"}], external_ref="")

    responses = race(key_a, [(body, f"race-{i}") for i in range(40)])

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [409] * 30
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"insufficient_stock"}
    level = StockLevel.objects.get(product=last_ten_units)
    assert (level.on_hand, level.allocated) == (Decimal("10.000"), Decimal("10.000"))
    assert Order.objects.count() == 10


@override_settings(OMS_ORDER_RATE_PER_MINUTE=1000)
def test_thirty_requests_with_one_key_make_one_order(key_a, customer, cement):
    body = order_body()

    responses = race(key_a, [(body, "same-key")] * 30, workers=30)

    assert Order.objects.count() == 1
    number = Order.objects.get().number
    created = [r for r in responses if r.status_code == 201]
    busy = [r for r in responses if r.status_code == 409]
    assert len(created) + len(busy) == 30
    assert {r.json()["number"] for r in created} == {number}
    assert sum(1 for r in created if "Idempotent-Replayed" not in r) == 1
    assert all(r.json()["code"] == "idempotency_in_progress" and r["Retry-After"] == "1" for r in busy)
    assert StockLevel.objects.get(product=cement).allocated == Decimal("8.000")
