from decimal import Decimal

import pytest

from tests.fleet import factories as f


@pytest.fixture
def plant(db):
    return f.PlantFactory(code="SOF1", name="Sofia plant", lat=42.70, lon=23.30)


@pytest.fixture
def truck(plant):
    return f.TruckFactory(code="TRK-07", plant=plant, capacity=Decimal("8.000"))


@pytest.fixture
def driver(plant):
    return f.DriverFactory(code="DRV-01", name="Georgi Ivanov", plant=plant)


@pytest.fixture
def product(db):
    return f.ProductFactory(sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"))


@pytest.fixture
def order(plant, product):
    order = f.OrderFactory(plant=plant)
    f.add_line(order, product, "8.000")
    return order
