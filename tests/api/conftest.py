"""Fixtures of the REST API tests: two sales points at the shared `plant`, keys and clients, products
with stock (the `plant`, `driver`, `customer` and `site` come from tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.models import IdempotencyRecord
from orders.models import Channel, Order
from tests.factories import ProductFactory, SalesPointFactory, StockLevelFactory
from tests.helpers import device_key, driver_key, token_client


@pytest.fixture
def sales_point_a(plant):
    return SalesPointFactory(code="KIOSK-SOF1-01", name="Kiosk Sofia 1", channel=Channel.KIOSK, plant=plant)


@pytest.fixture
def sales_point_b(plant):
    return SalesPointFactory(
        code="POS-SOF1-02", name="Store Sofia 1", channel=Channel.STOREFRONT, plant=plant
    )


@pytest.fixture
def key_a(sales_point_a):
    return device_key(sales_point_a)


@pytest.fixture
def key_b(sales_point_b):
    return device_key(sales_point_b)


@pytest.fixture
def key_driver(driver):
    return driver_key(driver)


@pytest.fixture
def api_a(key_a):
    return token_client(key_a)


@pytest.fixture
def api_b(key_b):
    return token_client(key_b)


@pytest.fixture
def api_driver(key_driver):
    return token_client(key_driver)


@pytest.fixture
def anonymous():
    return token_client(None)


@pytest.fixture
def cement(plant):
    product = ProductFactory(
        sku="C25-30",
        name="Concrete C25/30",
        unit="m3",
        unit_price=Decimal("95.00"),
        vat_rate=Decimal("20.00"),
    )
    StockLevelFactory(plant=plant, product=product, on_hand=Decimal("120.000"), allocated=Decimal("0.000"))
    return product


@pytest.fixture
def gravel(plant):
    product = ProductFactory(
        sku="AGG-0-4", name="Aggregate 0-4", unit="t", unit_price=Decimal("12.35"), vat_rate=Decimal("20.00")
    )
    StockLevelFactory(plant=plant, product=product, on_hand=Decimal("12.500"), allocated=Decimal("0.000"))
    return product


@pytest.fixture
def pump(db):
    """Made to order: no stock is checked."""
    return ProductFactory(
        sku="SRV-PUMP", name="Concrete pump hour", unit="pcs", unit_price=Decimal("80.00"), stocked=False
    )


def order_body(**overrides) -> dict:
    body = {
        "customer": {"number": "C-000042"},
        "fulfilment": "delivery",
        "site": {
            "name": "Block 7",
            "address": "ul. Vitosha 1",
            "city": "Sofia",
            "postcode": "1000",
            "country": "BG",
            "lat": 42.6977,
            "lon": 23.3219,
        },
        "lines": [{"sku": "C25-30", "quantity": "8.000"}],
        "window": {"from": "08:00", "to": "10:00"},
        "on_call": False,
        "external_ref": "POS-17-000482",
        "notes": "",
    }
    body.update(overrides)
    return body


def place(client, body=None, *, key="key-1", **extra):
    """POST /api/v1/orders/ with an Idempotency-Key."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(
        "/api/v1/orders/", body if body is not None else order_body(), format="json", **headers, **extra
    )


def counts() -> dict[str, int]:
    """Rows a failed request must not have written."""
    from customers.models import Customer, Site

    return {
        "orders": Order.objects.count(),
        "customers": Customer.objects.count(),
        "sites": Site.objects.count(),
        "idempotency": IdempotencyRecord.objects.count(),
    }


@pytest.fixture
def placed_order(api_a, customer, cement):
    """An order of sales point A, placed through the API."""
    response = place(api_a, order_body(external_ref="POS-A-1"), key="fixture-order")
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])
