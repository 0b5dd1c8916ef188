"""Inbound messages: stored first, applied per entity in version order, stale and invalid handled."""

import hashlib
import json
import random
from decimal import Decimal

import pytest

from catalog.models import Plant, Product, StockLevel
from customers.models import Customer
from erp_sync.inbound import inbox_apply_pending, inbox_store_batch
from erp_sync.models import EntityVersion, InboxMessage
from fleet.models import Driver, Truck
from oms.models import ExternalRef
from orders.models import Order, OrderStatus
from tests.erp_sync.conftest import body_of, envelope, signed_post

pytestmark = pytest.mark.django_db


def store(system, messages):
    return inbox_store_batch(system=system, messages=messages, source="pull")


def apply_all():
    outcomes, more = inbox_apply_pending(max_seconds=60)
    assert more is False
    return dict(outcomes)


def plant(mid, version, **data):
    return envelope(mid, "master.plant", ("plant", "SOF"), version, {"code": "SOF", "name": "Sofia", **data})


def test_master_plant_upsert_links_and_owns_the_plant(erp_system):
    store(erp_system, [plant("M-1", 1, address="1 Road", lat=42.7, lon=23.3, timezone="Europe/Sofia")])

    assert apply_all() == {"processed": 1}
    sof = Plant.objects.get(code="SOF")
    assert (sof.name, sof.address, sof.lat, sof.lon, sof.erp_system_id, sof.active) == (
        "Sofia",
        "1 Road",
        42.7,
        23.3,
        erp_system.pk,
        True,
    )
    ref = ExternalRef.objects.get(system=erp_system, entity_type="plant", external_id="SOF")
    assert (ref.object_id, ref.last_version) == (str(sof.pk), 1)
    assert EntityVersion.objects.get(entity_type="plant", entity_key="SOF").version == 1


def test_active_false_deactivates(erp_system):
    store(erp_system, [plant("M-1", 1), plant("M-2", 2, active=False)])

    assert apply_all() == {"processed": 2}
    assert Plant.objects.get(code="SOF").active is False


def test_older_version_is_stale_and_changes_nothing(erp_system):
    store(erp_system, [plant("M-2", 2, name="New")])
    apply_all()
    store(erp_system, [plant("M-1", 1, name="Old")])

    assert apply_all() == {"stale": 1}
    assert Plant.objects.get(code="SOF").name == "New"
    stale = InboxMessage.objects.get(message_id="M-1")
    assert (stale.status, stale.error) == ("stale", "version 1 is not newer than applied version 2")


def test_versions_waiting_together_apply_in_version_order(erp_system):
    # Arrived 3, 1, 2: applying in version order means none is stale and 3 wins.
    store(
        erp_system, [plant("M-3", 3, name="Three"), plant("M-1", 1, name="One"), plant("M-2", 2, name="Two")]
    )

    assert apply_all() == {"processed": 3}
    assert Plant.objects.get(code="SOF").name == "Three"


def test_truck_driver_product_customer_and_stock(erp_system):
    store(
        erp_system,
        [
            plant("P-1", 1),
            envelope(
                "T-1",
                "master.truck",
                ("truck", "TR-1"),
                1,
                {"code": "TR-1", "plate": "CA1234", "plant": "SOF", "capacity": "9.000", "unit": "m3"},
            ),
            envelope(
                "D-1",
                "master.driver",
                ("driver", "DR-1"),
                1,
                {"code": "DR-1", "name": "Georgi", "phone": "+359888000111", "plant": "SOF"},
            ),
            envelope(
                "PR-1",
                "master.product",
                ("product", "AGG-0-4"),
                1,
                {
                    "sku": "AGG-0-4",
                    "name": "Aggregate",
                    "unit": "t",
                    "unit_price": "12.50",
                    "vat_rate": "20.00",
                    "stocked": True,
                },
            ),
            envelope(
                "C-1",
                "master.customer",
                ("customer", "K-77"),
                1,
                {"number": "K-77", "name": "Stroy Ltd", "email": "Office@Stroy.bg", "kind": "company"},
            ),
            envelope(
                "S-1",
                "stock.level",
                ("stock", "SOF:AGG-0-4"),
                1,
                {"plant": "SOF", "sku": "AGG-0-4", "on_hand": "120.500"},
            ),
        ],
    )

    assert apply_all() == {"processed": 6}
    truck = Truck.objects.get(code="TR-1")
    assert (truck.plate, truck.plant.code, truck.capacity, truck.unit) == (
        "CA1234",
        "SOF",
        Decimal("9.000"),
        "m3",
    )
    driver = Driver.objects.get(code="DR-1")
    assert (driver.name, str(driver.phone), driver.plant.code) == ("Georgi", "+359888000111", "SOF")
    product = Product.objects.get(sku="AGG-0-4")
    assert (product.unit_price, product.vat_rate, product.stocked) == (
        Decimal("12.50"),
        Decimal("20.00"),
        True,
    )
    customer = Customer.objects.get(email="office@stroy.bg")
    assert (customer.name, customer.kind, customer.number.startswith("C-")) == ("Stroy Ltd", "company", True)
    assert ExternalRef.objects.get(entity_type="customer", external_id="K-77").object_id == str(customer.pk)
    level = StockLevel.objects.get(plant__code="SOF", product__sku="AGG-0-4")
    assert (level.on_hand, level.allocated) == (Decimal("120.500"), Decimal("0.000"))


def test_customer_update_through_its_reference_keeps_the_oms_number(erp_system):
    store(
        erp_system,
        [envelope("C-1", "master.customer", ("customer", "K-77"), 1, {"number": "K-77", "name": "A"})],
    )
    apply_all()
    number = Customer.objects.get().number
    store(
        erp_system,
        [
            envelope(
                "C-2",
                "master.customer",
                ("customer", "K-77"),
                2,
                {"number": "K-77", "name": "B", "active": False},
            )
        ],
    )

    assert apply_all() == {"processed": 1}
    customer = Customer.objects.get()
    assert (customer.number, customer.name, customer.active) == (number, "B", False)


def test_unknown_reference_fails_with_a_readable_error_and_the_rest_applies(erp_system):
    store(
        erp_system,
        [
            envelope("T-1", "master.truck", ("truck", "TR-1"), 1, {"code": "TR-1", "plant": "NOPE"}),
            plant("P-1", 1),
        ],
    )

    assert apply_all() == {"failed": 1, "processed": 1}
    failed = InboxMessage.objects.get(message_id="T-1")
    assert (failed.status, failed.error) == ("failed", "Unknown plant 'NOPE'.")
    assert not Truck.objects.exists()
    # A failed message does not consume the entity's version.
    assert EntityVersion.objects.get(entity_type="truck").version == 0


@pytest.mark.parametrize(
    ("message", "error"),
    [
        (envelope("X", "master.zebra", ("zebra", "Z"), 1, {}), "Unknown message type 'master.zebra'."),
        ({"id": "X", "type": "master.plant"}, "message: 'occurred_at' is a required property"),
        (plant("X", "7"), "version: '7' is not of type 'integer'"),
        (
            envelope("X", "master.plant", ("plant", "SOF"), 1, {"name": "No code"}),
            "data: 'code' is a required property",
        ),
        (
            envelope("X", "stock.level", ("stock", "S"), 1, {"plant": "SOF", "sku": "A", "on_hand": "-1"}),
            "data.on_hand: '-1' does not match '^\\\\d{1,11}(\\\\.\\\\d{1,3})?$'",
        ),
        (
            envelope("X", "master.plant", ("truck", "SOF"), 1, {"code": "SOF", "name": "S"}),
            "entity.type 'truck' does not fit message type 'master.plant' (expected plant).",
        ),
    ],
)
def test_invalid_messages_are_failed_at_once_under_their_id(erp_system, message, error):
    [result] = store(erp_system, [message])

    row = InboxMessage.objects.get()
    assert (result.status, row.message_id, row.status, row.error) == ("accepted", "X", "failed", error)
    assert apply_all() == {}
    assert not Plant.objects.exists()


def test_limits_make_a_message_unusable(erp_system):
    results = store(
        erp_system,
        [
            plant("I" * 201, 1),
            {**plant("T-1", 1), "type": "t" * 101},
            envelope("K-1", "master.plant", ("plant", "k" * 201), 1, {}),
            plant("BIG", 1, name="x" * (1024 * 1024)),
            "a string",
            {"id": "NUL\x00", "type": "master.plant"},
        ],
    )

    assert [(r.status, r.error) for r in results] == [
        ("rejected", "The message has no usable id (a non-empty string of at most 200 characters)."),
        ("rejected", "type is longer than 100 characters."),
        ("rejected", "entity.key is longer than 200 characters."),
        ("rejected", "The message is larger than 1 MB."),
        ("rejected", "The message is not a JSON object."),
        ("rejected", "The message has no usable id (a non-empty string of at most 200 characters)."),
    ]
    rows = list(InboxMessage.objects.order_by("pk"))
    assert all(
        r.status == "failed" and r.message_id.startswith("unusable-") and r.payload is None for r in rows
    )
    assert max(len(r.raw) for r in rows) == 2000
    assert rows[5].raw == '{"id": "NUL\\u0000", "type": "master.plant"}'


def test_text_jsonb_cannot_hold_is_failed_under_its_own_id(erp_system):
    [result] = store(erp_system, [plant("NUL-1", 1, name="a\x00b")])

    row = InboxMessage.objects.get()
    assert (result.status, row.message_id, row.status) == ("accepted", "NUL-1", "failed")
    assert row.error == "The message holds text that cannot be stored (NUL characters or lone surrogates)."
    assert "a\\u0000b" in row.raw


# --- a realistic feed: duplicates and shuffled versions end in the clean state ----------------------


def feed(seed: int) -> list[dict]:
    rng = random.Random(seed)
    messages = []
    for p in range(3):
        for v in range(1, 4):
            messages.append(
                envelope(
                    f"PL-{p}-{v}",
                    "master.plant",
                    ("plant", f"P{p}"),
                    v,
                    {"code": f"P{p}", "name": f"Plant {p} v{v}", "active": v != 2 or p != 1},
                )
            )
    for s in range(20):
        messages.append(
            envelope(
                f"PR-{s}",
                "master.product",
                ("product", f"SKU-{s}"),
                1,
                {"sku": f"SKU-{s}", "name": f"P{s}", "unit": "t", "unit_price": "10.00"},
            )
        )
    for i in range(300):
        p, s = rng.randrange(3), rng.randrange(20)
        messages.append(
            envelope(
                f"ST-{i}",
                "stock.level",
                ("stock", f"P{p}:SKU-{s}"),
                i + 1,
                {"plant": f"P{p}", "sku": f"SKU-{s}", "on_hand": f"{rng.randrange(1000)}.500"},
            )
        )
    for c in range(30):
        for v in range(1, 3):
            messages.append(
                envelope(
                    f"CU-{c}-{v}",
                    "master.customer",
                    ("customer", f"K-{c}"),
                    v,
                    {"number": f"K-{c}", "name": f"Customer {c} v{v}", "email": f"c{c}@example.com"},
                )
            )
    return messages


def state_hash() -> str:
    state = {
        "plants": list(Plant.objects.order_by("code").values_list("code", "name", "active")),
        "products": list(Product.objects.order_by("sku").values_list("sku", "name", "unit_price")),
        "stock": [
            (p, s, str(q))
            for p, s, q in StockLevel.objects.order_by("plant__code", "product__sku").values_list(
                "plant__code", "product__sku", "on_hand"
            )
        ],
        "customers": sorted(Customer.objects.values_list("email", "name", "active")),
        "refs": sorted(ExternalRef.objects.values_list("entity_type", "external_id")),
    }
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


def dirty(messages: list[dict], seed: int) -> list[dict]:
    """+20% duplicates (same id again, anywhere later) and 10% of the messages swapped with a later
    version of the same entity, so that versions arrive out of order."""
    rng = random.Random(seed)
    out = list(messages)
    for _ in range(len(messages) // 5):
        i = rng.randrange(len(out))
        out.insert(rng.randrange(i, len(out) + 1), out[i])
    entity = lambda m: (m["entity"]["type"], m["entity"]["key"])  # noqa: E731
    swapped = 0
    while swapped < len(messages) // 10:
        i = rng.randrange(len(out))
        later = [
            j
            for j in range(i + 1, len(out))
            if entity(out[j]) == entity(out[i]) and out[j]["id"] != out[i]["id"]
        ]
        if later:
            j = rng.choice(later)
            out[i], out[j] = out[j], out[i]
            swapped += 1
    return out


def apply_in_pages(system, messages, page=37):
    for start in range(0, len(messages), page):
        store(system, messages[start : start + page])
        apply_all()


@pytest.mark.django_db(transaction=True)
def test_duplicates_and_shuffled_versions_end_in_the_clean_state(erp_system):
    clean = feed(seed=7)
    apply_in_pages(erp_system, clean)
    expected = state_hash()
    assert InboxMessage.objects.filter(status="processed").count() == len(clean)

    # Same feed from scratch, dirty: wipe the domain rows and the inbox, replay.
    InboxMessage.objects.all().delete()
    EntityVersion.objects.all().delete()
    ExternalRef.objects.all().delete()
    StockLevel.objects.all().delete()
    Product.objects.all().delete()
    Customer.objects.all().delete()
    Plant.objects.all().delete()
    noisy = dirty(clean, seed=11)
    apply_in_pages(erp_system, noisy)

    assert state_hash() == expected
    counts = {
        status: InboxMessage.objects.filter(status=status).count()
        for status in ("processed", "stale", "failed")
    }
    assert InboxMessage.objects.count() == len(clean)  # every duplicate was dropped at the door
    assert counts["failed"] == 0
    assert counts["processed"] + counts["stale"] == len(clean)
    assert counts["stale"] > 0


def test_garbage_around_valid_messages(client, erp_system):
    """1,000 garbage messages through the webhook: all failed with errors, valid ones applied."""
    rng = random.Random(3)
    garbage_bodies = 0
    valid = 0
    for i in range(1000):
        kind = i % 5
        if kind == 0:
            signed_post(client, "ERP1", b'{"messages": [{"id": "x", ' + str(i).encode())
            garbage_bodies += 1
            continue
        if kind == 1:
            message = envelope(f"G-{i}", f"weird.{i}", ("weird", "k"), 1, {})
        elif kind == 2:
            message = {"id": f"G-{i}", "type": "master.plant", "entity": {"type": "plant", "key": "SOF"}}
        elif kind == 3:
            message = envelope(
                f"G-{i}", "stock.level", ("stock", "SOF:A"), "one", {"plant": 5, "sku": [], "on_hand": 1}
            )
        else:
            message = plant(f"G-{i}", 1, name="x" * (1024 * 1024 + rng.randrange(100)))
        good = plant(f"V-{i}", i + 1, name=f"Sofia {i}")
        valid += 1
        response = signed_post(client, "ERP1", body_of([message, good]))
        assert response.status_code == 202
        assert response.json()["results"][1] == {"id": f"V-{i}", "status": "accepted"}

    assert apply_all() == {"processed": valid}
    assert Plant.objects.get(code="SOF").name == "Sofia 999"
    failed = InboxMessage.objects.filter(status="failed")
    assert failed.count() == 1000
    assert failed.filter(error="").count() == 0
    assert failed.filter(message_id__startswith="unusable-").count() == garbage_bodies + 200


# --- orders ---------------------------------------------------------------------------------------


def test_order_ack_confirms_and_reject_rejects(erp_system, world):
    first, second = world.place("1"), world.place("1")
    store(
        erp_system,
        [
            envelope(
                "A-1", "order.ack", ("order", first.number), 1, {"order": first.number, "erp_order": "SO-1"}
            ),
            envelope(
                "R-1",
                "order.reject",
                ("order", second.number),
                1,
                {"order": second.number, "reason": "No credit"},
            ),
        ],
    )

    assert apply_all() == {"processed": 2}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.erp_order_number, first.erp_sync_state) == (
        "confirmed",
        "SO-1",
        "acknowledged",
    )
    assert second.status == "rejected"
    assert StockLevel.objects.get(product=world.gravel).allocated == Decimal("1.000")


def test_order_ack_for_an_unknown_order_fails(erp_system):
    store(
        erp_system,
        [envelope("A-1", "order.ack", ("order", "ORD-NOPE"), 1, {"order": "ORD-NOPE", "erp_order": "S"})],
    )

    assert apply_all() == {"failed": 1}
    assert InboxMessage.objects.get().error == "Unknown order 'ORD-NOPE'."


@pytest.fixture
def aggregate(world, product_factory, stock_level_factory):
    """The product of the ERP's orders: AGG-0-4 at 10.00 per t, with plenty of stock at the world's plant."""
    product = product_factory(sku="AGG-0-4", unit_price=Decimal("10.00"))
    stock_level_factory(plant=world.plant, product=product, on_hand=Decimal("1000000"))
    return product


def upsert(mid, version, **data):
    base = {
        "erp_order": "SO-4711",
        "customer": {"number": "K-1", "name": "Stroy Ltd", "email": "office@stroy.bg"},
        "site": {"name": "Block 5", "address": "5 Tsarigradsko", "city": "Sofia", "lat": 42.68, "lon": 23.36},
        "lines": [{"position": 1, "sku": "AGG-0-4", "quantity": "8.000", "unit_price": "9.50"}],
        "requested_date": "2026-12-01",
        "window": {"from": "08:00", "to": "10:00"},
        "on_call": False,
        "plant": "SOF",
    }
    return envelope(mid, "order.upsert", ("order", "SO-4711"), version, {**base, **data})


def test_order_upsert_places_a_confirmed_erp_order_then_updates_quantities(erp_system, world, aggregate):
    store(erp_system, [upsert("U-1", 1)])
    assert apply_all() == {"processed": 1}
    order = Order.objects.get(channel="erp")
    line = order.lines.get()
    assert (order.external_ref, order.erp_order_number, order.status, order.erp_system_id) == (
        "SO-4711",
        "SO-4711",
        OrderStatus.CONFIRMED,
        erp_system.pk,
    )
    assert (line.quantity, line.unit_price, order.net_total) == (
        Decimal("8.000"),
        Decimal("9.50"),
        Decimal("76.00"),
    )
    assert ExternalRef.objects.get(entity_type="customer", external_id="K-1").object_id == str(
        order.customer_id
    )

    store(erp_system, [upsert("U-2", 2, lines=[{"position": 1, "sku": "AGG-0-4", "quantity": "10.000"}])])
    assert apply_all() == {"processed": 1}
    line.refresh_from_db()
    assert line.quantity == Decimal("10.000")
    assert Order.objects.count() == 1

    store(erp_system, [upsert("U-3", 3, status="on_hold")])
    assert apply_all() == {"processed": 1}
    assert Order.objects.get().status == OrderStatus.ON_HOLD


def test_order_upsert_cannot_add_lines_to_an_existing_order(erp_system, world, aggregate):
    store(erp_system, [upsert("U-1", 1)])
    apply_all()
    lines = [
        {"position": 1, "sku": "AGG-0-4", "quantity": "8.000"},
        {"position": 2, "sku": "AGG-0-4", "quantity": "1"},
    ]
    store(erp_system, [upsert("U-2", 2, lines=lines)])

    assert apply_all() == {"failed": 1}
    assert InboxMessage.objects.get(message_id="U-2").error == (
        "order.upsert cannot add or remove lines of an existing order (positions 2)."
    )
    assert Order.objects.get().lines.count() == 1


def test_order_upsert_with_an_unknown_customer_number_fails(erp_system, world, aggregate):
    store(erp_system, [upsert("U-1", 1, customer="K-404")])

    assert apply_all() == {"failed": 1}
    assert InboxMessage.objects.get().error.startswith("Unknown ERP customer 'K-404'")
    assert not Order.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_appliers_never_apply_a_later_version_first(erp_system):
    """Four threads apply 100 entities × 3 versions at once: versions apply in order, none is stale."""
    import threading

    from django.db import connection

    messages = [
        envelope(
            f"P-{v}-{k}",
            "master.product",
            ("product", f"MP-{k}"),
            v,
            {"sku": f"MP-{k}", "name": f"v{v}", "unit": "t", "unit_price": "10.00"},
        )
        for v in (1, 2, 3)
        for k in range(100)
    ]
    store(erp_system, messages)
    errors = []

    def work():
        try:
            while True:
                _outcomes, more = inbox_apply_pending(max_seconds=60)
                if not more:
                    return
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert InboxMessage.objects.filter(status="processed").count() == 300
    assert set(Product.objects.values_list("name", flat=True)) == {"v3"}
