"""Fixtures of the fleet tests: a plant with a truck and a driver, a product and an order."""

from datetime import time
from decimal import Decimal

import pytest

from orders.models import Channel
from tests import factories as f


@pytest.fixture
def plant(db):
    return f.PlantFactory(code="SOF1", name="Sofia plant", lat=42.70, lon=23.30)


@pytest.fixture
def truck(plant):
    return f.TruckFactory(code="TRK-07", plant=plant, capacity=Decimal("8.000"))


@pytest.fixture
def driver(plant):
    return f.DriverFactory(code="DRV-01", name="Georgi Ivanov", phone="+359888000111", plant=plant)


@pytest.fixture
def product(db):
    return f.ProductFactory(sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"))


@pytest.fixture
def order(plant, product):
    """A kiosk order of 8 m3 of `product` for Ivan Petrov, delivered to "Block 7" between 08:00 and 10:00."""
    customer = f.CustomerFactory(name="Ivan Petrov", email="ivan@example.com")
    site = f.SiteFactory(customer=customer, name="Block 7", address="ul. Vitosha 1", lat=42.6977, lon=23.3219)
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
