"""The guards of the stock services that a later check or the database would otherwise hide: the
allocation statement on its own and the shortage check of `stock_allocate_many` (the fallback path
of the other databases is tested on SQLite by test_stock_sqlite.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from catalog.models import StockLevel
from catalog.services import _lock_check_allocate, stock_allocate_many, stock_set_level
from oms.exceptions import InsufficientStock
from oms.lib.actors import Actor
from tests.factories import PlantFactory, ProductFactory, StockLevelFactory

pytestmark = pytest.mark.django_db
ERP = Actor(kind="erp", name="SAP1")


@pytest.fixture
def level():
    """10 on hand, 4 allocated: 6 available."""
    return StockLevelFactory(product=ProductFactory(sku="A"), on_hand=Decimal("10"), allocated=Decimal("4"))


def levels() -> list[tuple[int, int, Decimal, Decimal]]:
    """(plant, product, on_hand, allocated) of the products this test made (SKUs A and B)."""
    rows = StockLevel.objects.filter(product__sku__in=["A", "B"])
    return sorted(rows.values_list("plant_id", "product_id", "on_hand", "allocated"))


# --- the allocation statement (PostgreSQL) --------------------------------------------------------


def test_the_statement_allocates_nothing_when_a_product_has_no_stock_row(level):
    """`LEFT JOIN` → `JOIN`, or dropping `l.id IS NULL OR`, lets the statement allocate the lines that
    have a row; `stock_allocate` would raise afterwards and roll back, but the statement alone must
    already be all or nothing."""
    unstocked = ProductFactory(sku="B")
    before = levels()

    with transaction.atomic():
        rows, allocated = _lock_check_allocate(
            level.plant_id, {level.product_id: Decimal("1"), unstocked.pk: Decimal("1")}
        )
        assert levels() == before  # inside the transaction: nothing was written

    assert (rows, allocated) == ([(level.product_id, Decimal("10.000"), Decimal("4.000"))], False)


def test_the_statement_allocates_nothing_when_one_line_is_short(level):
    other = StockLevelFactory(plant=level.plant, product=ProductFactory(sku="B"), on_hand=Decimal("1"))
    before = levels()

    with transaction.atomic():
        rows, allocated = _lock_check_allocate(
            level.plant_id, {level.product_id: Decimal("6"), other.product_id: Decimal("2")}
        )
        assert levels() == before

    assert allocated is False
    assert sorted(rows) == sorted(
        [
            (level.product_id, Decimal("10.000"), Decimal("4.000")),
            (other.product_id, Decimal("1.000"), Decimal("0.000")),
        ]
    )


def test_the_statement_allocates_every_line_when_all_have_enough(level):
    other = StockLevelFactory(plant=level.plant, product=ProductFactory(sku="B"), on_hand=Decimal("2"))

    with transaction.atomic():
        _, allocated = _lock_check_allocate(
            level.plant_id, {level.product_id: Decimal("6"), other.product_id: Decimal("2")}
        )

    assert allocated is True
    assert levels() == sorted(
        [
            (level.plant_id, level.product_id, Decimal("10.000"), Decimal("10.000")),
            (level.plant_id, other.product_id, Decimal("2.000"), Decimal("2.000")),
        ]
    )


def test_the_statement_touches_only_the_rows_of_its_plant(level):
    """The same product at another plant is neither checked nor allocated."""
    elsewhere = StockLevelFactory(plant=PlantFactory(), product=level.product, on_hand=Decimal("1"))

    with transaction.atomic():
        rows, allocated = _lock_check_allocate(level.plant_id, {level.product_id: Decimal("6")})

    assert (rows, allocated) == ([(level.product_id, Decimal("10.000"), Decimal("4.000"))], True)
    assert levels() == sorted(
        [
            (level.plant_id, level.product_id, Decimal("10.000"), Decimal("10.000")),
            (elsewhere.plant_id, level.product_id, Decimal("1.000"), Decimal("0.000")),
        ]
    )


# --- stock_allocate_many (bulk imports) -----------------------------------------------------------


@pytest.fixture
def two_plants(level):
    """`level` (A at plant 1: 6 available), B at plant 2 with 5 on hand, and A at plant 2 (3 on hand)."""
    plant_2 = PlantFactory()
    b = ProductFactory(sku="B")
    StockLevelFactory(plant=plant_2, product=b, on_hand=Decimal("5"))
    StockLevelFactory(plant=plant_2, product=level.product, on_hand=Decimal("3"))
    return level.plant, plant_2, level.product, b


def test_allocate_many_allocates_exactly_the_items_and_leaves_the_other_locked_rows(two_plants):
    plant_1, plant_2, a, b = two_plants

    with transaction.atomic():
        stock_allocate_many(
            items={(plant_1.pk, a.pk): Decimal("6"), (plant_2.pk, b.pk): Decimal("5")},
            skus={a.pk: "A", b.pk: "B"},
        )

    assert levels() == sorted(
        [
            (plant_1.pk, a.pk, Decimal("10.000"), Decimal("10.000")),  # exactly all that was available
            (plant_2.pk, b.pk, Decimal("5.000"), Decimal("5.000")),
            (plant_2.pk, a.pk, Decimal("3.000"), Decimal("0.000")),  # locked, not an item: unchanged
        ]
    )


def test_allocate_many_refuses_a_short_item_with_insufficient_stock_not_a_database_error(two_plants):
    """`or` → `and` in the shortage check would let the short item through to the UPDATE, where the
    check constraint raises an IntegrityError instead of the 409 every caller expects."""
    plant_1, plant_2, a, b = two_plants
    before = levels()

    with pytest.raises(InsufficientStock) as raised, transaction.atomic():
        stock_allocate_many(
            items={(plant_1.pk, a.pk): Decimal("1"), (plant_2.pk, b.pk): Decimal("5.001")},
            skus={a.pk: "A", b.pk: "B"},
        )

    assert str(raised.value) == "Not enough stock for 1 line."
    assert raised.value.errors == {"lines": [{"sku": "B", "requested": "5.001", "available": "5.000"}]}
    assert levels() == before


def test_allocate_many_refuses_an_item_without_a_stock_row(two_plants):
    """With `and` the missing row is looked up anyway (KeyError, a 500): it must be a shortage of 0."""
    plant_1, plant_2, a, b = two_plants
    before = levels()

    with pytest.raises(InsufficientStock) as raised, transaction.atomic():
        stock_allocate_many(
            items={(plant_1.pk, b.pk): Decimal("1"), (plant_2.pk, a.pk): Decimal("4")},
            skus={a.pk: "A", b.pk: "B"},
        )

    assert str(raised.value) == "Not enough stock for 2 lines."
    lines = sorted(raised.value.errors["lines"], key=lambda line: line["sku"])
    assert lines == [
        {"sku": "A", "requested": "4.000", "available": "3.000"},
        {"sku": "B", "requested": "1.000", "available": "0.000"},
    ]
    assert levels() == before


# --- stock_set_level (absolute levels from the ERP) -----------------------------------------------


def test_set_level_to_zero_is_a_level_not_an_error(level):
    """An ERP reporting that nothing is left: zero is allowed, and caps the allocation at zero."""
    updated = stock_set_level(plant=level.plant, product=level.product, on_hand=Decimal("0"), actor=ERP)

    assert (updated.on_hand, updated.allocated) == (Decimal("0.000"), Decimal("0.000"))
    assert levels() == [(level.plant_id, level.product_id, Decimal("0.000"), Decimal("0.000"))]


@pytest.mark.django_db(transaction=True)
def test_set_level_opens_its_own_transaction_for_a_caller_without_one():
    """Called in autocommit (an ERP message handler, a command), the locking read needs the service's
    own transaction: without it Django refuses `select_for_update` outside a transaction."""
    plant, product = PlantFactory(), ProductFactory(sku="A")

    level = stock_set_level(plant=plant, product=product, on_hand=Decimal("7.5"), actor=ERP)

    assert (level.on_hand, level.allocated) == (Decimal("7.500"), Decimal("0.000"))
    assert levels() == [(plant.pk, product.pk, Decimal("7.500"), Decimal("0.000"))]
