"""Checks of the stock allocation on SQLite (the path every database but PostgreSQL takes: a locking
read in pk order, a check in Python, one UPDATE). Not collected by the suite, which runs on
PostgreSQL: tests/orders/test_stock_sqlite.py runs this file with DATABASE_URL=sqlite:///…"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction

from catalog.models import StockLevel
from catalog.services import stock_allocate
from oms.exceptions import InsufficientStock
from tests.factories import ProductFactory, StockLevelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def level():
    """10 on hand, 4 allocated: 6 available."""
    return StockLevelFactory(product=ProductFactory(sku="A"), on_hand=Decimal("10"), allocated=Decimal("4"))


def current(level) -> tuple[Decimal, Decimal]:
    level.refresh_from_db()
    return level.on_hand, level.allocated


def test_the_database_is_sqlite():
    assert connection.vendor == "sqlite"


def test_allocates_exactly_what_is_available(level):
    with transaction.atomic():
        stock_allocate(
            plant_id=level.plant_id,
            items=[(level.product_id, Decimal("2.5")), (level.product_id, Decimal("3.5"))],
            skus={level.product_id: "A"},
        )

    assert current(level) == (Decimal("10.000"), Decimal("10.000"))


def test_one_short_line_allocates_nothing(level):
    other = StockLevelFactory(plant=level.plant, product=ProductFactory(sku="B"), on_hand=Decimal("1"))

    with pytest.raises(InsufficientStock) as raised, transaction.atomic():
        stock_allocate(
            plant_id=level.plant_id,
            items=[(level.product_id, Decimal("6")), (other.product_id, Decimal("1.001"))],
            skus={level.product_id: "A", other.product_id: "B"},
        )

    assert str(raised.value) == "Not enough stock for 1 line."
    assert raised.value.errors == {"lines": [{"sku": "B", "requested": "1.001", "available": "1.000"}]}
    assert current(level) == (Decimal("10.000"), Decimal("4.000"))
    assert current(other) == (Decimal("1.000"), Decimal("0.000"))


def test_a_product_without_a_stock_row_is_short_of_everything(level):
    unstocked = ProductFactory(sku="B")

    with pytest.raises(InsufficientStock) as raised, transaction.atomic():
        stock_allocate(
            plant_id=level.plant_id,
            items=[(unstocked.pk, Decimal("1")), (level.product_id, Decimal("7"))],
            skus={level.product_id: "A", unstocked.pk: "B"},
        )

    assert str(raised.value) == "Not enough stock for 2 lines."
    assert raised.value.errors == {
        "lines": sorted(
            [
                {"sku": "A", "requested": "7.000", "available": "6.000"},
                {"sku": "B", "requested": "1.000", "available": "0.000"},
            ],
            key=lambda line: {"A": level.product_id, "B": unstocked.pk}[line["sku"]],
        )
    }
    assert list(StockLevel.objects.values_list("product_id", "allocated")) == [
        (level.product_id, Decimal("4.000"))
    ]
