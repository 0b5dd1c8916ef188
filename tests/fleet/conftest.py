"""Fixtures of the fleet tests: a truck, a product and an order at the shared `plant` (the `plant`,
`driver`, `customer` and `site` come from tests/conftest.py)."""

from datetime import time
from decimal import Decimal

import pytest

from orders.models import Channel
from tests import factories as f


@pytest.fixture
def truck(plant):
    return f.TruckFactory(code="TRK-07", plant=plant, capacity=Decimal("8.000"))


@pytest.fixture
def product(db):
    return f.ProductFactory(sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"))


@pytest.fixture
def order(plant, product, customer, site):
    """A kiosk order of 8 m3 of `product` for `customer`, delivered to `site` between 08:00 and 10:00."""
    order = f.OrderFactory(
        plant=plant,
        customer=customer,
        site=site,
        address=site.snapshot(),
        channel=Channel.KIOSK,
        window_from=time(8, 0),
        window_to=time(10, 0),
    )
    f.add_line(order, product, "8.000")
    return order
