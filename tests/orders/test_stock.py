"""Stock per plant: allocate / release / consume / set level keep 0 <= allocated <= on_hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from catalog.models import StockLevel
from catalog.services import (
    NEGATIVE_ON_HAND,
    stock_allocate,
    stock_consume,
    stock_release,
    stock_restock,
    stock_set_level,
)
from oms.exceptions import InsufficientStock, ValidationError
from oms.lib.actors import Actor
from tests.factories import PlantFactory, ProductFactory, StockLevelFactory

ERP = Actor(kind="erp", name="SAP1")
ZERO = Decimal("0.000")
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("40"), places=3)
levels = st.decimals(min_value=Decimal("0"), max_value=Decimal("120"), places=3)


class StockMachine(RuleBasedStateMachine):
    """Two products at one plant; the model remembers every open allocation (one per 'order')."""

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.plant = PlantFactory()
        self.products = [ProductFactory(), ProductFactory()]
        self.on_hand = {p.pk: Decimal("50.000") for p in self.products}
        for product in self.products:
            StockLevelFactory(plant=self.plant, product=product, on_hand=self.on_hand[product.pk])
        self.skus = {p.pk: p.sku for p in self.products}
        self.allocations: dict[int, tuple[int, Decimal]] = {}  # allocation id → (product id, quantity)
        self.next_id = 0

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    # --- the model --------------------------------------------------------------------------

    def allocated(self, product_id: int) -> Decimal:
        return sum((q for pid, q in self.allocations.values() if pid == product_id), ZERO)

    def available(self, product_id: int) -> Decimal:
        return self.on_hand[product_id] - self.allocated(product_id)

    def product_ids(self):
        return [p.pk for p in self.products]

    # --- rules ------------------------------------------------------------------------------

    @rule(first=st.one_of(st.none(), quantities), second=st.one_of(st.none(), quantities))
    def allocate(self, first, second):
        items = [
            (pid, q) for pid, q in zip(self.product_ids(), (first, second), strict=True) if q is not None
        ]
        short = [
            {"sku": self.skus[pid], "requested": f"{q:.3f}", "available": f"{self.available(pid):.3f}"}
            for pid, q in sorted(items)
            if self.available(pid) < q
        ]
        if short:
            with pytest.raises(InsufficientStock) as raised, transaction.atomic():
                stock_allocate(plant_id=self.plant.pk, items=items, skus=self.skus)
            assert raised.value.errors == {"lines": short}
            return
        with transaction.atomic():
            stock_allocate(plant_id=self.plant.pk, items=items, skus=self.skus)
        for pid, q in items:
            self.allocations[self.next_id] = (pid, q)
            self.next_id += 1

    def _pick(self, data) -> tuple[int, int, Decimal, Decimal]:
        key = data.draw(st.sampled_from(sorted(self.allocations)))
        pid, held = self.allocations[key]
        amount = data.draw(st.decimals(min_value=Decimal("0.001"), max_value=held, places=3))
        return key, pid, held, amount

    def _reduce(self, key: int, held: Decimal, amount: Decimal) -> None:
        if amount == held:
            del self.allocations[key]
        else:
            self.allocations[key] = (self.allocations[key][0], held - amount)

    @precondition(lambda self: self.allocations)
    @rule(data=st.data())
    def release(self, data):
        key, pid, held, amount = self._pick(data)
        with transaction.atomic():
            stock_release(plant_id=self.plant.pk, items=[(pid, amount)])
        self._reduce(key, held, amount)

    @precondition(lambda self: self.allocations)
    @rule(data=st.data())
    def consume(self, data):
        key, pid, held, amount = self._pick(data)
        with transaction.atomic():
            stock_consume(plant_id=self.plant.pk, items=[(pid, amount)])
        self.on_hand[pid] -= amount
        self._reduce(key, held, amount)

    @rule(index=st.integers(0, 1), on_hand=levels)
    def set_level(self, index, on_hand):
        product = self.products[index]
        level = stock_set_level(plant=self.plant, product=product, on_hand=on_hand, actor=ERP)
        self.on_hand[product.pk] = on_hand
        # The allocation is capped at the new on_hand: the newest allocations lose first.
        excess = self.allocated(product.pk) - on_hand
        for key in sorted(self.allocations, reverse=True):
            if excess <= 0:
                break
            pid, held = self.allocations[key]
            if pid != product.pk:
                continue
            cut = min(held, excess)
            self._reduce(key, held, cut)
            excess -= cut
        assert (level.on_hand, level.allocated) == (on_hand, self.allocated(product.pk))

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def stock_matches_the_model(self):
        rows = {
            pid: (on_hand, allocated)
            for pid, on_hand, allocated in StockLevel.objects.filter(plant=self.plant).values_list(
                "product_id", "on_hand", "allocated"
            )
        }
        for pid in self.product_ids():
            on_hand, allocated = rows[pid]
            assert ZERO <= allocated <= on_hand
            assert (on_hand, allocated) == (self.on_hand[pid], self.allocated(pid))


@pytest.mark.django_db
def test_stock_operations_keep_allocation_within_on_hand_and_equal_to_open_allocations():
    run_state_machine_as_test(
        StockMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# --- examples ------------------------------------------------------------------------------------


@pytest.fixture
def level(stock_level_factory):
    return stock_level_factory(on_hand=Decimal("10"), allocated=Decimal("4"))


def current(level) -> tuple[Decimal, Decimal]:
    level.refresh_from_db()
    return level.on_hand, level.allocated


@pytest.mark.django_db
def test_allocate_is_all_or_nothing(level, stock_level_factory):
    other = stock_level_factory(plant=level.plant, on_hand=Decimal("1"))
    skus = {level.product_id: "A", other.product_id: "B"}

    with pytest.raises(InsufficientStock) as raised, transaction.atomic():
        stock_allocate(
            plant_id=level.plant_id,
            items=[(level.product_id, Decimal("6")), (other.product_id, Decimal("2"))],
            skus=skus,
        )

    assert raised.value.errors == {"lines": [{"sku": "B", "requested": "2.000", "available": "1.000"}]}
    assert current(level) == (Decimal("10.000"), Decimal("4.000"))
    assert current(other) == (Decimal("1.000"), Decimal("0.000"))


@pytest.mark.django_db
def test_release_never_goes_below_zero(level):
    with transaction.atomic():
        stock_release(plant_id=level.plant_id, items=[(level.product_id, Decimal("5"))])

    assert current(level) == (Decimal("10.000"), Decimal("0.000"))


@pytest.mark.django_db
def test_consume_takes_goods_from_on_hand_and_allocation(level):
    with transaction.atomic():
        stock_consume(
            plant_id=level.plant_id,
            items=[(level.product_id, Decimal("3")), (level.product_id, Decimal("1"))],
        )

    assert current(level) == (Decimal("6.000"), Decimal("0.000"))


@pytest.mark.django_db
def test_restock_puts_goods_back_on_hand_and_creates_a_missing_row(level, product_factory):
    new_product = product_factory()

    with transaction.atomic():
        stock_restock(
            plant_id=level.plant_id,
            items=[(level.product_id, Decimal("2.5")), (new_product.pk, Decimal("1"))],
        )

    assert current(level) == (Decimal("12.500"), Decimal("4.000"))
    created = StockLevel.objects.get(plant_id=level.plant_id, product=new_product)
    assert (created.on_hand, created.allocated) == (Decimal("1.000"), Decimal("0.000"))


@pytest.mark.django_db
def test_set_level_caps_the_allocation_and_refuses_negative_stock(level):
    capped = stock_set_level(plant=level.plant, product=level.product, on_hand=Decimal("3"), actor=ERP)
    assert (capped.on_hand, capped.allocated) == (Decimal("3.000"), Decimal("3.000"))

    with pytest.raises(ValidationError) as raised:
        stock_set_level(plant=level.plant, product=level.product, on_hand=Decimal("-1"), actor=ERP)

    assert raised.value.errors == {"on_hand": [NEGATIVE_ON_HAND]}
    assert current(level) == (Decimal("3.000"), Decimal("3.000"))


@pytest.mark.django_db
def test_set_level_creates_the_row_of_a_new_product(plant_factory, product_factory):
    plant, product = plant_factory(), product_factory()

    level = stock_set_level(plant=plant, product=product, on_hand=Decimal("7.25"), actor=ERP)

    assert (level.plant_id, level.product_id, level.on_hand, level.allocated) == (
        plant.pk,
        product.pk,
        Decimal("7.250"),
        Decimal("0.000"),
    )
