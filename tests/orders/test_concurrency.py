"""Placement under concurrency, on real PostgreSQL connections: no oversell, no deadlock, one order per key.

Every worker thread opens its own connection, waits on a barrier so that all start together, and
closes its connection when done.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum

from catalog.models import Plant, Product, StockLevel
from customers.models import Customer
from oms.exceptions import (
    DuplicateExternalRef,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InsufficientStock,
)
from oms.lib.actors import Actor
from oms.lib.idempotency import run_idempotent
from oms.models import IdempotencyRecord, OutboxMessage
from orders.models import Channel, Fulfilment, Order, OrderEvent, OrderLine, SalesPoint
from orders.services.placement import CustomerRef, LineInput, order_place
from tests.factories import (
    CustomerFactory,
    PlantFactory,
    ProductFactory,
    SalesPointFactory,
    StockLevelFactory,
)

# 50 workers share the 200 placements of a round (200 threads would need 200 connections).
WORKERS = 50
PLACEMENTS = 200
ROUNDS = 5
KIOSK = Actor(kind="device", name="kiosk-1", channel=Channel.KIOSK)


def run_concurrently(task: Callable[[int], object], count: int, workers: int = WORKERS) -> list:
    """Run task(0..count-1) on `workers` threads started together; [(ok, result or exception)]."""
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(count):
        todo.put(i)
    barrier = threading.Barrier(workers)
    results: list[tuple[bool, object]] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = (True, task(i))
                except Exception as exc:  # noqa: BLE001 - the test inspects every failure
                    outcome = (False, exc)
                with lock:
                    results.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert len(results) == count
    return results


def failures(results) -> list[Exception]:
    return [value for ok, value in results if not ok]


def successes(results) -> list:
    return [value for ok, value in results if ok]


def place_one(sales_point: SalesPoint, customer: Customer, lines: list[LineInput], **kwargs) -> Order:
    return order_place(
        channel=Channel.KIOSK,
        customer=CustomerRef(id=str(customer.public_id)),
        lines=lines,
        actor=KIOSK,
        fulfilment=Fulfilment.PICKUP,
        sales_point=sales_point,
        **kwargs,
    )


@pytest.fixture
def shop(transactional_db):
    plant = PlantFactory(code="CON")
    return {
        "plant": plant,
        "sales_point": SalesPointFactory(plant=plant),
        "customer": CustomerFactory(),
    }


def clear_orders() -> None:
    OrderEvent.objects.all().delete()
    OrderLine.objects.all().delete()
    OutboxMessage.objects.all().delete()
    Order.objects.all().delete()


def assert_stock_matches_orders(plant: Plant, product: Product) -> StockLevel:
    level = StockLevel.objects.get(plant=plant, product=product)
    allocated_by_lines = OrderLine.objects.filter(order__plant=plant, product=product).aggregate(
        total=Sum("allocated")
    )["total"] or Decimal("0.000")
    assert level.allocated <= level.on_hand
    assert level.allocated - Decimal("90.000") == allocated_by_lines
    return level


@pytest.mark.django_db(transaction=True)
def test_200_concurrent_placements_for_the_last_10_units_place_exactly_10_orders(shop):
    plant, sales_point, customer = shop["plant"], shop["sales_point"], shop["customer"]
    product = ProductFactory(sku="LAST-10")
    level = StockLevelFactory(plant=plant, product=product, on_hand=Decimal("100"), allocated=Decimal("90"))
    timings = []

    for _ in range(ROUNDS):
        StockLevel.objects.filter(pk=level.pk).update(allocated=Decimal("90"))
        clear_orders()
        started = time.monotonic()

        results = run_concurrently(
            lambda i: place_one(sales_point, customer, [LineInput(sku="LAST-10", quantity=Decimal("1"))]),
            PLACEMENTS,
        )

        timings.append(time.monotonic() - started)
        errors = failures(results)
        assert len(successes(results)) == 10
        assert len(errors) == 190
        assert {type(error) for error in errors} == {InsufficientStock}
        assert {str(error.errors["lines"][0]["available"]) for error in errors} == {"0.000"}
        level.refresh_from_db()
        assert (level.on_hand, level.allocated) == (Decimal("100.000"), Decimal("100.000"))
        assert Order.objects.count() == 10
        assert OrderEvent.objects.filter(type="order.placed").count() == 10
        assert OutboxMessage.objects.filter(type="order.created").count() == 10
        assert_stock_matches_orders(plant, product)
    print(
        f"\n{ROUNDS} rounds of {PLACEMENTS} placements on {WORKERS} threads: "
        + ", ".join(f"{t:.2f}s" for t in timings)
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_multi_line_orders_in_random_line_order_never_deadlock(shop):
    plant, sales_point, customer = shop["plant"], shop["sales_point"], shop["customer"]
    limits = {"MIX-A": Decimal("7"), "MIX-B": Decimal("5"), "MIX-C": Decimal("9")}
    products = {sku: ProductFactory(sku=sku) for sku in limits}
    levels = {
        sku: StockLevelFactory(plant=plant, product=products[sku], on_hand=limits[sku]) for sku in limits
    }

    for round_ in range(ROUNDS):
        clear_orders()
        StockLevel.objects.filter(pk__in=[level.pk for level in levels.values()]).update(
            allocated=Decimal("0")
        )
        shuffles = []
        for i in range(PLACEMENTS):
            skus = list(limits)
            random.Random(round_ * PLACEMENTS + i).shuffle(skus)
            shuffles.append([LineInput(sku=sku, quantity=Decimal("1")) for sku in skus])
        assert len({tuple(line.sku for line in lines) for lines in shuffles}) == 6  # every order of lines

        results = run_concurrently(
            lambda i, shuffles=shuffles: place_one(sales_point, customer, shuffles[i]), PLACEMENTS
        )

        errors = failures(results)
        assert {type(error) for error in errors} == {InsufficientStock}
        assert len(successes(results)) == 5 == Order.objects.count()
        for sku, on_hand in limits.items():
            level = StockLevel.objects.get(pk=levels[sku].pk)
            assert (level.on_hand, level.allocated) == (on_hand, Decimal("5.000"))
            allocated_by_lines = OrderLine.objects.filter(product=products[sku]).aggregate(
                total=Sum("allocated")
            )
            assert allocated_by_lines["total"] == Decimal("5.000")
        assert not StockLevel.objects.filter(allocated__gt=F("on_hand")).exists()
        # The scarcest product is reported to every refused order.
        assert all("MIX-B" in [entry["sku"] for entry in error.errors["lines"]] for error in errors)


@pytest.mark.django_db(transaction=True)
def test_without_the_row_lock_concurrent_allocations_race(shop):
    """The race the lock prevents: read-then-write allocators all see the last unit as free."""
    plant = shop["plant"]
    product = ProductFactory()
    level = StockLevelFactory(plant=plant, product=product, on_hand=Decimal("1"))
    read_done = threading.Barrier(5)

    def naive_allocate(_: int) -> None:
        with transaction.atomic():
            free = StockLevel.objects.get(pk=level.pk).available  # no select_for_update
            read_done.wait(timeout=30)
            if free >= 1:
                StockLevel.objects.filter(pk=level.pk).update(allocated=F("allocated") + 1)

    results = run_concurrently(naive_allocate, 5, workers=5)

    # All five saw a free unit; only the database check constraint stopped four of them.
    assert len(successes(results)) == 1
    assert [type(error) for error in failures(results)] == [IntegrityError] * 4
    assert all("stock_allocated_within_on_hand" in str(error) for error in failures(results))


# --- idempotency ---------------------------------------------------------------------------------

PATH = "/api/v1/orders/"


def idempotent_place(shop, *, key: str, payload: dict, external_ref: str = ""):
    def operation():
        order = place_one(
            shop["sales_point"],
            shop["customer"],
            [LineInput(sku=payload["sku"], quantity=Decimal(payload["quantity"]))],
            external_ref=external_ref,
        )
        return 201, {"number": order.number}, order.number

    return run_idempotent(
        scope=f"device:{shop['sales_point'].code}",
        method="POST",
        path=PATH,
        key=key,
        payload=payload,
        operation=operation,
    )


@pytest.mark.django_db(transaction=True)
def test_50_concurrent_placements_with_one_key_make_one_order(shop):
    product = ProductFactory(sku="IDEM")
    StockLevelFactory(plant=shop["plant"], product=product, on_hand=Decimal("100"))
    payload = {"sku": "IDEM", "quantity": "2"}

    results = run_concurrently(lambda i: idempotent_place(shop, key="key-1", payload=payload), 50)

    order = Order.objects.get()
    answered = successes(results)
    assert [result.replayed for result in answered].count(False) == 1
    assert {(result.status, result.body["number"], result.result_ref) for result in answered} == {
        (201, order.number, order.number)
    }
    assert {type(error) for error in failures(results)} <= {IdempotencyInProgress}
    assert StockLevel.objects.get(product=product).allocated == Decimal("2.000")
    assert OrderEvent.objects.count() == 1
    assert OutboxMessage.objects.count() == 1
    # A retry after the storm gets the stored response.
    again = idempotent_place(shop, key="key-1", payload=payload)
    assert (again.status, again.body, again.replayed) == (201, {"number": order.number}, True)
    assert Order.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_one_key_with_another_body_is_refused_and_places_nothing(shop):
    product = ProductFactory(sku="IDEM")
    StockLevelFactory(plant=shop["plant"], product=product, on_hand=Decimal("100"))
    first = idempotent_place(shop, key="key-2", payload={"sku": "IDEM", "quantity": "2"})

    with pytest.raises(IdempotencyKeyReused) as raised:
        idempotent_place(shop, key="key-2", payload={"sku": "IDEM", "quantity": "3"})

    assert raised.value.status == 422
    assert list(Order.objects.values_list("number", flat=True)) == [first.body["number"]]
    assert StockLevel.objects.get(product=product).allocated == Decimal("2.000")
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_placements_with_one_external_ref_make_one_order(shop):
    product = ProductFactory(sku="EXT")
    StockLevelFactory(plant=shop["plant"], product=product, on_hand=Decimal("100"))
    payload = {"sku": "EXT", "quantity": "1"}

    results = run_concurrently(
        lambda i: idempotent_place(shop, key=f"key-{i}", payload=payload, external_ref="POS-4711"),
        20,
        workers=20,
    )

    order = Order.objects.get()
    assert order.external_ref == "POS-4711"
    errors = failures(results)
    assert len(successes(results)) == 1
    assert Counter(type(error) for error in errors) == Counter({DuplicateExternalRef: 19})
    assert {tuple(error.extra.items()) for error in errors} == {(("number", order.number),)}
    assert StockLevel.objects.get(product=product).allocated == Decimal("1.000")
    assert OrderEvent.objects.count() == 1
    # The conflict is a business answer: it is stored and replayed for the same key.
    stored = IdempotencyRecord.objects.exclude(result_ref=order.number)
    assert {(r.response_status, r.response_body["number"]) for r in stored} == {(409, order.number)}


# --- lock order of restock against allocation ---------------------------------------------------------


def wait_until_blocked(count: int) -> None:
    """Wait until `count` other sessions of this database wait for a row lock."""
    for _ in range(200):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.02)
    raise AssertionError(f"{count} sessions never blocked")


def race_behind_a_row_lock(row: StockLevel, first: Callable[[], None], second: Callable[[], None]) -> dict:
    """A third transaction holds `row`; `first` queues for it, then `second` starts; then the holder ends.

    Returns {"first": "ok" | exception, "second": ...}.
    """
    holder_has_lock, release_holder = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def holder() -> None:
        try:
            with transaction.atomic():
                StockLevel.objects.select_for_update().get(pk=row.pk)
                holder_has_lock.set()
                release_holder.wait(timeout=30)
        finally:
            connection.close()

    def run(name: str, operation: Callable[[], None]) -> threading.Thread:
        def target() -> None:
            try:
                with transaction.atomic():
                    operation()
                outcomes[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - the test reports it
                outcomes[name] = exc
            finally:
                connection.close()

        thread = threading.Thread(target=target)
        thread.start()
        return thread

    holding = threading.Thread(target=holder)
    holding.start()
    assert holder_has_lock.wait(timeout=10)
    threads = [holding, run("first", first)]
    wait_until_blocked(1)
    threads.append(run("second", second))
    wait_until_blocked(2)
    release_holder.set()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_restock_and_allocation_of_two_products_do_not_deadlock(shop):
    """Stock rows are created in the opposite order of their products, so product order != pk order.

    An allocation queues for the first row (pk order) behind a third transaction; then a restock of
    both products starts. Locking by product it would take the second row and wait for the first:
    a deadlock once the third transaction ends. Both services lock in pk order.
    """
    from catalog.services import stock_allocate, stock_restock

    plant = shop["plant"]
    first_product, second_product = ProductFactory(), ProductFactory()
    low_pk_row = StockLevelFactory(plant=plant, product=second_product, on_hand=Decimal("10"))
    StockLevelFactory(plant=plant, product=first_product, on_hand=Decimal("10"))
    items = [(first_product.pk, Decimal("1")), (second_product.pk, Decimal("1"))]
    skus = {first_product.pk: first_product.sku, second_product.pk: second_product.sku}

    outcomes = race_behind_a_row_lock(
        low_pk_row,
        lambda: stock_allocate(plant_id=plant.pk, items=items, skus=skus),
        lambda: stock_restock(plant_id=plant.pk, items=items),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert sorted(StockLevel.objects.values_list("on_hand", "allocated")) == [
        (Decimal("11.000"), Decimal("1.000")),
        (Decimal("11.000"), Decimal("1.000")),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_correction_up_and_down_and_an_allocation_do_not_deadlock(shop):
    """A correction allocates more of B and releases some of A (pk A < pk B): it must lock A first."""
    from catalog.services import stock_allocate
    from orders.services.lifecycle import Correction, order_correct

    plant = shop["plant"]
    a, b = ProductFactory(sku="A"), ProductFactory(sku="B")
    row_a = StockLevelFactory(plant=plant, product=a, on_hand=Decimal("10"))
    StockLevelFactory(plant=plant, product=b, on_hand=Decimal("10"))
    order = place_one(
        shop["sales_point"],
        shop["customer"],
        [LineInput(sku="A", quantity=Decimal("5")), LineInput(sku="B", quantity=Decimal("5"))],
    )
    corrections = [
        Correction(position=1, field="quantity", new=Decimal("4"), reason="less A"),
        Correction(position=2, field="quantity", new=Decimal("6"), reason="more B"),
    ]

    outcomes = race_behind_a_row_lock(
        row_a,
        lambda: stock_allocate(
            plant_id=plant.pk, items=[(a.pk, Decimal("1")), (b.pk, Decimal("1"))], skus={}
        ),
        lambda: order_correct(order=order, corrections=corrections, actor=KIOSK),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert list(StockLevel.objects.order_by("product__sku").values_list("allocated", flat=True)) == [
        Decimal("5.000"),
        Decimal("7.000"),
    ]


def rows_out_of_pk_order(plant: Plant) -> tuple[StockLevel, StockLevel, list[tuple[int, Decimal]], dict]:
    """Two stock rows (10 on hand, 2 allocated) whose pk order is the reverse of both their product
    order and their place in the table: `low` has the lower pk but the higher product id, and an update
    moved its row version behind `high`. A statement that locks without `ORDER BY id` meets `high`
    first whichever plan it runs (index on the product or sequential scan).

    Returns (low, high, items of 1 each, skus)."""
    first_product, second_product = ProductFactory(sku="P-1"), ProductFactory(sku="P-2")
    low = StockLevelFactory(plant=plant, product=second_product, on_hand=Decimal("10"))
    high = StockLevelFactory(
        plant=plant, product=first_product, on_hand=Decimal("10"), allocated=Decimal("2")
    )
    # An UPDATE writes a new row version at the end of the table: `low` now comes after `high`.
    StockLevel.objects.filter(pk=low.pk).update(allocated=Decimal("2"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {StockLevel._meta.db_table} WHERE id IN (%s, %s) ORDER BY ctid",  # noqa: S608
            [low.pk, high.pk],
        )
        assert [pk for (pk,) in cursor.fetchall()] == [high.pk, low.pk], "the rows are not out of order"
    assert low.pk < high.pk and second_product.pk > first_product.pk
    items = [(first_product.pk, Decimal("1")), (second_product.pk, Decimal("1"))]
    return low, high, items, {first_product.pk: "P-1", second_product.pk: "P-2"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("writer", "other", "after"),
    [
        ("allocate", "restock", ("11.000", "3.000")),
        ("allocate_many", "restock", ("11.000", "3.000")),
        ("consume", "allocate", ("9.000", "2.000")),
        ("release", "allocate", ("10.000", "2.000")),
        ("restock", "allocate", ("11.000", "3.000")),
    ],
)
def test_every_stock_writer_locks_in_pk_order_not_in_scan_order(shop, writer, other, after):
    """The allocation statement without `ORDER BY id`, `stock_lock` without its order, or consume /
    release without `stock_lock` (their UPDATE then locks in scan order) deadlock against a writer
    that locks in pk order (a restock, or the allocation statement).

    A third transaction holds `high`. The writer queues behind it: in pk order it first takes `low`;
    in scan order it holds nothing yet. The other writer then takes `low` if it is free and queues
    for `high`. When the third transaction ends, a scan-order writer gets `high` and waits for `low`,
    which the other holds while it waits for `high`: PostgreSQL aborts one of them."""
    from catalog.services import (
        stock_allocate,
        stock_allocate_many,
        stock_consume,
        stock_release,
        stock_restock,
    )

    plant = shop["plant"]
    low, high, items, skus = rows_out_of_pk_order(plant)
    writers = {
        "allocate": lambda: stock_allocate(plant_id=plant.pk, items=items, skus=skus),
        "allocate_many": lambda: stock_allocate_many(
            items={(plant.pk, product_id): qty for product_id, qty in items}, skus=skus
        ),
        "consume": lambda: stock_consume(plant_id=plant.pk, items=items),
        "release": lambda: stock_release(plant_id=plant.pk, items=items),
        "restock": lambda: stock_restock(plant_id=plant.pk, items=items),
    }

    outcomes = race_behind_a_row_lock(high, writers[writer], writers[other])

    assert outcomes == {"first": "ok", "second": "ok"}
    on_hand, allocated = Decimal(after[0]), Decimal(after[1])
    assert sorted(StockLevel.objects.values_list("pk", "on_hand", "allocated")) == [
        (low.pk, on_hand, allocated),
        (high.pk, on_hand, allocated),
    ]


@pytest.mark.django_db(transaction=True)
def test_allocate_many_checks_the_stock_as_a_concurrent_allocation_left_it(shop):
    """Without its locking read, `stock_allocate_many` would check the stock as it was before a
    concurrent allocation committed, pass, and run into the check constraint in its UPDATE (a 500
    instead of the 409 with what is left)."""
    from catalog.services import stock_allocate, stock_allocate_many

    plant = shop["plant"]
    product = ProductFactory(sku="P-1")
    row = StockLevelFactory(plant=plant, product=product, on_hand=Decimal("10"))
    allocated, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def concurrent_allocation() -> None:
        try:
            with transaction.atomic():
                stock_allocate(
                    plant_id=plant.pk, items=[(product.pk, Decimal("8"))], skus={product.pk: "P-1"}
                )
                allocated.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def bulk() -> None:
        try:
            with transaction.atomic():
                stock_allocate_many(items={(plant.pk, product.pk): Decimal("5")}, skus={product.pk: "P-1"})
            outcome["bulk"] = "ok"
        except Exception as exc:  # noqa: BLE001 - the test reports it
            outcome["bulk"] = exc
        finally:
            connection.close()

    holder = threading.Thread(target=concurrent_allocation)
    holder.start()
    assert allocated.wait(timeout=10)
    importer = threading.Thread(target=bulk)
    importer.start()
    wait_until_blocked(1)
    release.set()
    holder.join(timeout=30)
    importer.join(timeout=30)

    assert isinstance(outcome["bulk"], InsufficientStock), outcome
    assert outcome["bulk"].errors == {"lines": [{"sku": "P-1", "requested": "5.000", "available": "2.000"}]}
    assert StockLevel.objects.get(pk=row.pk).allocated == Decimal("8.000")
