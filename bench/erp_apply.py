"""Benchmark: inbound apply rate of `order.upsert` (new ERP orders placed through order_place).

Method: a fresh PostgreSQL database with one plant, PRODUCTS stocked products (plenty of stock) and
CUSTOMERS customers linked by ExternalRef. MESSAGES `order.upsert` envelopes (2 lines each, a new
site each, random products) are stored in the inbox first (not timed), then applied by N processes
each running `inbox_apply_pending` until nothing is waiting (timed from the moment every process has
started and connected until the last one exits). Every message places and
confirms one order (order, lines, stock allocation, site, events, external ref, entity version).

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_bench_erp_apply .venv/bin/python bench/erp_apply.py
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

from common import configure, prepare_database

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_bench_erp_apply", "bench-erp")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", 4000))
PRODUCTS = 50
CUSTOMERS = 200


def seed() -> None:
    from decimal import Decimal

    from django.contrib.contenttypes.models import ContentType

    from catalog.models import Plant, Product, StockLevel
    from customers.models import Customer
    from oms.models import ErpSystem, ExternalRef

    system = ErpSystem.objects.create(code="BENCH", adapter="http_json", is_default=True)
    plant = Plant.objects.create(code="SOF", name="Sofia", lat=42.7, lon=23.3, erp_system=system)
    products = Product.objects.bulk_create(
        Product(sku=f"SKU-{i:03d}", name=f"Product {i}", unit="t", unit_price=Decimal("10.00"))
        for i in range(PRODUCTS)
    )
    StockLevel.objects.bulk_create(
        StockLevel(plant=plant, product=p, on_hand=Decimal("100000000")) for p in products
    )
    customers = Customer.objects.bulk_create(
        Customer(number=f"C-{i:06d}", name=f"Customer {i}", email=f"c{i}@example.com")
        for i in range(CUSTOMERS)
    )
    ct = ContentType.objects.get_for_model(Customer)
    ExternalRef.objects.bulk_create(
        ExternalRef(
            system=system, entity_type="customer", external_id=f"K-{i}", content_type=ct, object_id=str(c.pk)
        )
        for i, c in enumerate(customers)
    )


def fill(kind: str = "order.upsert") -> None:
    from erp_sync.inbound import inbox_store_batch
    from oms.models import ErpSystem

    system = ErpSystem.objects.get(code="BENCH")
    rng = random.Random(1)
    messages = []
    for i in range(MESSAGES if kind == "order.upsert" else 0):
        skus = rng.sample(range(PRODUCTS), 2)
        messages.append(
            {
                "id": f"U-{i}",
                "type": "order.upsert",
                "occurred_at": "2026-11-22T08:00:00Z",
                "entity": {"type": "order", "key": f"SO-{i}"},
                "version": 1,
                "data": {
                    "erp_order": f"SO-{i}",
                    "customer": f"K-{rng.randrange(CUSTOMERS)}",
                    "site": {"name": f"Site {i}", "address": f"{i} Vitosha Blvd", "city": "Sofia"},
                    "lines": [
                        {"position": n + 1, "sku": f"SKU-{s:03d}", "quantity": "8.000", "unit_price": "9.50"}
                        for n, s in enumerate(skus)
                    ],
                    "requested_date": "2026-12-01",
                    "plant": "SOF",
                },
            }
        )
    if kind == "master.product":
        # The apply machinery with a cheap handler: one product upsert per message, 500 products.
        messages = [
            {
                "id": f"P-{i}",
                "type": "master.product",
                "occurred_at": "2026-11-22T08:00:00Z",
                "entity": {"type": "product", "key": f"MP-{i % 500}"},
                "version": i + 1,
                "data": {"sku": f"MP-{i % 500}", "name": f"Product {i}", "unit": "t", "unit_price": "10.00"},
            }
            for i in range(MESSAGES)
        ]
    for start in range(0, MESSAGES, 500):
        inbox_store_batch(system=system, messages=messages[start : start + 500], source="pull")


def apply_worker() -> int:
    import django

    django.setup()
    from django.db import connection

    from erp_sync.inbound import inbox_apply_pending

    connection.ensure_connection()
    print("ready", flush=True)  # started and connected: the clock starts when every worker is ready
    sys.stdin.readline()
    while True:
        _outcomes, more = inbox_apply_pending(max_seconds=300)
        if not more:
            return 0


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orders_orderevent, orders_orderline, orders_order, customers_site, erp_sync_inboxmessage, "
            "erp_sync_entityversion, erp_sync_syncrun CASCADE"
        )
        cursor.execute("DELETE FROM oms_externalref WHERE entity_type = 'order'")
        cursor.execute("UPDATE catalog_stocklevel SET allocated = 0")


def main() -> int:
    if sys.argv[1:] == ["--worker"]:
        return apply_worker()
    prepare_database(DATABASE_URL, fresh=True)
    import django

    django.setup()
    from erp_sync.models import InboxMessage

    seed()
    for kind, processes in (
        ("order.upsert", 1),
        ("order.upsert", 2),
        ("order.upsert", 4),
        ("master.product", 1),
        ("master.product", 2),
    ):
        reset()
        fill(kind)
        procs = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, __file__, "--worker"],
                env=os.environ.copy(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(processes)
        ]
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        started = time.perf_counter()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            proc.wait()
        elapsed = time.perf_counter() - started
        done = InboxMessage.objects.filter(status="processed").count()
        failed = list(InboxMessage.objects.filter(status="failed").values_list("error", flat=True)[:3])
        print(
            f"{kind} processes={processes}: {done}/{MESSAGES} applied in {elapsed:.1f} s "
            f"= {done / elapsed:,.0f} msg/s; failed: {failed}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
