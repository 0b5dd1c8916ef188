"""Inbound messages are applied in batches, and new ERP orders among them are placed in bulk.

The promise: the same rows as applying every message alone in its own transaction — compared here
field by field over a feed of new orders, updates, stale versions, a held customer and a bad order.
"""

import copy
import random
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import StockLevel
from customers.models import Customer, Site
from erp_sync.handlers import orders as order_handlers
from erp_sync.inbound import inbox_apply_pending, inbox_store_batch
from erp_sync.models import EntityVersion, InboxMessage
from oms.models import ExternalRef
from orders.models import Order
from tests import factories
from tests.erp_sync.conftest import envelope

pytestmark = pytest.mark.django_db

CUSTOMERS = 4  # K-3 is put on credit hold: its orders are held, so placed one by one


@pytest.fixture
def catalog(db):
    sofia = factories.PlantFactory(code="SOF", name="Sofia", lat=42.70, lon=23.32)
    varna = factories.PlantFactory(code="VAR", name="Varna", lat=43.21, lon=27.91)
    products = [
        factories.ProductFactory(sku="AGG-0-4", unit_price=Decimal("10.00")),
        factories.ProductFactory(sku="SAND-0-2", unit_price=Decimal("7.50")),
        factories.ProductFactory(sku="PUMP", unit_price=Decimal("120.00"), stocked=False),
    ]
    for plant in (sofia, varna):
        for product in products[:2]:
            factories.StockLevelFactory(plant=plant, product=product, on_hand=Decimal("5000"))
    return products


@pytest.fixture
def bulk_sizes(monkeypatch):
    """How many orders each bulk import placed (the import itself runs unchanged)."""
    sizes: list[int] = []
    real = order_handlers.erp_orders_import

    def counting(*, orders, **kwargs):
        sizes.append(len(orders))
        return real(orders=orders, **kwargs)

    monkeypatch.setattr(order_handlers, "erp_orders_import", counting)
    return sizes


def customers_feed() -> list[dict]:
    return [
        envelope(
            f"CU-{c}",
            "master.customer",
            ("customer", f"K-{c}"),
            1,
            {"number": f"K-{c}", "name": f"Customer {c}", "email": f"k{c}@example.com"},
        )
        for c in range(CUSTOMERS)
    ]


def new_order(i: int, rng: random.Random, **data) -> dict:
    skus = rng.sample(["AGG-0-4", "SAND-0-2", "PUMP"], rng.randint(1, 3))
    body = {
        "erp_order": f"SO-{i}",
        "customer": f"K-{i % CUSTOMERS}",
        "site": {
            "name": f"Site {i}",
            "address": f"{i} Vitosha Blvd",
            "city": "Sofia",
            **({"lat": 42.69, "lon": 23.31} if i % 2 else {}),
        },
        "lines": [
            {
                "position": n + 1,
                "sku": sku,
                "quantity": f"{rng.randint(1, 40)}.{rng.randint(0, 999):03d}",
                **({"unit_price": f"{rng.randint(5, 20)}.{rng.randint(0, 99):02d}"} if n % 2 == 0 else {}),
            }
            for n, sku in enumerate(skus)
        ],
        "requested_date": "2026-12-01",
        **({"plant": "VAR" if i % 3 == 0 else "SOF"} if i % 4 else {}),
        **({"window": {"from": "08:00", "to": "10:00"}} if i % 5 == 0 else {}),
        **({"on_call": True} if i % 7 == 0 else {}),
        **({"notes": f"Gate {i}"} if i % 6 == 0 else {}),
        **data,
    }
    return envelope(f"U-{i}-1", "order.upsert", ("order", f"SO-{i}"), 1, body)


def orders_feed(*, bad: bool) -> list[dict]:
    rng = random.Random(5)
    messages = [new_order(i, rng) for i in range(40)]
    # An update of an order placed earlier in the same batch, and a stale copy of another one.
    update = copy.deepcopy(messages[3])
    update["id"], update["version"] = "U-3-2", 2
    update["data"]["lines"] = [dict(line, quantity="2.000") for line in update["data"]["lines"]]
    messages.insert(30, update)
    stale = dict(messages[5], id="U-5-0", version=0)
    messages.insert(35, stale)
    messages.append(new_order(40, rng, status="on_hold"))
    if bad:
        messages.insert(12, new_order(41, rng, lines=[{"position": 1, "sku": "NOPE", "quantity": "1"}]))
    return messages


def apply(system, messages):
    for start in range(0, len(messages), 500):
        inbox_store_batch(system=system, messages=messages[start : start + 500], source="pull")
    outcomes, more = inbox_apply_pending(max_seconds=60)
    assert more is False
    return dict(outcomes)


def run_feed(system, *, bad: bool = False) -> dict:
    assert apply(system, customers_feed()) == {"processed": CUSTOMERS}
    Customer.objects.filter(email="k3@example.com").update(credit_hold=True)
    return apply(system, orders_feed(bad=bad))


def snapshot() -> dict:
    by_id = {}
    orders = []
    for order in Order.objects.select_related("plant", "customer").prefetch_related("lines", "events"):
        by_id[str(order.pk)] = order.external_ref
        orders.append(
            (
                order.external_ref,
                order.channel,
                order.status,
                order.status_before,
                order.version,
                order.erp_sync_state,
                order.erp_order_number,
                order.erp_system.code,
                order.customer.email,
                order.plant.code,
                order.address,
                order.fulfilment,
                str(order.requested_date),
                str(order.window_from),
                str(order.window_to),
                order.on_call,
                order.notes,
                (str(order.net_total), str(order.tax_total), str(order.gross_total)),
                order.site.name,
                [
                    (line.position, line.sku, line.description, line.unit, line.stocked)
                    + tuple(str(v) for v in (line.quantity, line.allocated, line.unit_price, line.vat_rate))
                    + (str(line.net), str(line.tax))
                    for line in sorted(order.lines.all(), key=lambda line: line.position)
                ],
                [
                    (
                        event.type,
                        event.data,
                        event.actor_kind,
                        event.actor,
                        event.channel,
                        event.visible_to_customer,
                    )
                    for event in sorted(order.events.all(), key=lambda event: (event.at, event.pk))
                ],
            )
        )
    return {
        "orders": sorted(orders),
        "stock": sorted(
            (plant, sku, str(on_hand), str(allocated))
            for plant, sku, on_hand, allocated in StockLevel.objects.values_list(
                "plant__code", "product__sku", "on_hand", "allocated"
            )
        ),
        "sites": sorted(Site.objects.values_list("customer__email", "name", "address", "city", "lat", "lon")),
        "refs": sorted(
            (
                entity_type,
                external_id,
                by_id.get(object_id, "customer") if entity_type == "order" else "",
                version,
            )
            for entity_type, external_id, object_id, version in ExternalRef.objects.values_list(
                "entity_type", "external_id", "object_id", "last_version"
            )
        ),
        "inbox": sorted(InboxMessage.objects.values_list("message_id", "status", "error", "attempts")),
        "versions": sorted(EntityVersion.objects.values_list("entity_type", "entity_key", "version")),
    }


def wipe() -> None:
    Order.objects.all().delete()
    Site.objects.all().delete()
    Customer.objects.all().delete()
    ExternalRef.objects.all().delete()
    EntityVersion.objects.all().delete()
    InboxMessage.objects.all().delete()
    StockLevel.objects.update(allocated=Decimal("0"))


@pytest.mark.parametrize("bad", [False, True], ids=["clean", "with-a-bad-order"])
def test_batched_apply_ends_in_exactly_the_state_of_one_message_per_transaction(
    erp_system, catalog, bulk_sizes, settings, bad
):
    outcomes = run_feed(erp_system, bad=bad)
    batched = snapshot()
    sizes_batched = list(bulk_sizes)

    wipe()
    bulk_sizes.clear()
    settings.OMS_INBOX_APPLY_BATCH = 1  # every message alone: the one-by-one path
    assert run_feed(erp_system, bad=bad) == outcomes
    alone = snapshot()

    assert bulk_sizes == []
    assert alone == batched
    # Two runs of new orders, cut by the update of SO-3 (applied after the run that placed it).
    # Held customers, the update and the on-hold order are left to the one-by-one path. SO-5 is in
    # the second run: its stale copy (version 0) arrived later but takes the entity's first slot,
    # and version 1 the second. With the bad order the first import is refused as a whole and its
    # 23 messages are applied alone.
    assert sizes_batched == ([23, 8] if bad else [22, 8])
    expected = {"processed": 42, "stale": 1} | ({"failed": 1} if bad else {})
    assert outcomes == expected
    if bad:
        assert InboxMessage.objects.get(message_id="U-41-1").error.startswith("Unknown or inactive product.")
    held = [o for o in batched["orders"] if o[8] == "k3@example.com"]
    assert len(held) == 10 and {o[2] for o in held} == {"on_hold"}
    update = next(o for o in batched["orders"] if o[0] == "SO-3")
    assert {line[5] for line in update[19]} == {"2.000"}  # the v2 quantities, applied after v1


def test_bulk_import_writes_nothing_when_stock_is_short_and_each_order_is_then_applied_alone(
    erp_system, catalog, bulk_sizes
):
    assert apply(erp_system, customers_feed()) == {"processed": CUSTOMERS}
    StockLevel.objects.filter(product__sku="AGG-0-4").update(on_hand=Decimal("10"))
    lines = lambda q: [{"position": 1, "sku": "AGG-0-4", "quantity": q}]  # noqa: E731
    rng = random.Random(1)
    messages = [new_order(i, rng, plant="SOF", lines=lines("4.000")) for i in (1, 2, 5)]

    assert apply(erp_system, messages) == {"processed": 2, "failed": 1}

    assert bulk_sizes == [3]  # tried at once, refused as a whole (12 > 10), then one by one
    assert sorted(Order.objects.values_list("external_ref", flat=True)) == ["SO-1", "SO-2"]
    assert StockLevel.objects.get(plant__code="SOF", product__sku="AGG-0-4").allocated == Decimal("8.000")
    failed = InboxMessage.objects.get(status="failed")
    assert (failed.message_id, failed.error) == (
        "U-5-1",
        "Not enough stock for 1 line. {'lines': [{'sku': 'AGG-0-4', 'requested': '4.000', "
        "'available': '2.000'}]}",
    )
    assert ExternalRef.objects.filter(entity_type="order").count() == 2
    assert Site.objects.count() == 2


def test_bulk_import_is_a_constant_number_of_statements(erp_system, catalog):
    apply(erp_system, customers_feed())
    rng = random.Random(2)
    few = [new_order(i, rng, plant="SOF") for i in (1, 2, 5)]
    many = [new_order(i, rng, plant="SOF") for i in range(100, 300) if i % CUSTOMERS != 3]
    counts = []
    for messages in (few, many):
        inbox_store_batch(system=erp_system, messages=messages, source="pull")
        with CaptureQueriesContext(connection) as queries:
            outcomes, _more = inbox_apply_pending(max_seconds=60)
        assert outcomes == {"processed": len(messages)}
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_a_batch_failing_on_the_database_is_applied_again_one_message_at_a_time(
    erp_system, catalog, bulk_sizes, monkeypatch
):
    from django.db import OperationalError

    from erp_sync import inbound

    real_save = inbound._Batch.save
    failures = []

    def deadlocked_once(self):
        if not failures:
            failures.append(len(self.finished))
            raise OperationalError("deadlock detected")
        return real_save(self)

    monkeypatch.setattr(inbound._Batch, "save", deadlocked_once)
    messages = customers_feed()

    assert apply(erp_system, messages) == {"processed": CUSTOMERS}

    assert failures == [CUSTOMERS]  # the whole batch was rolled back once, then applied alone
    assert sorted(InboxMessage.objects.values_list("message_id", "status", "attempts")) == [
        (f"CU-{c}", "processed", 1) for c in range(CUSTOMERS)
    ]
    assert Customer.objects.count() == CUSTOMERS
    assert ExternalRef.objects.filter(entity_type="customer").count() == CUSTOMERS
