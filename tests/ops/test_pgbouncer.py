"""The OMS behind PgBouncer in transaction mode (`OMS_DB_POOLER=transaction`): gunicorn with several
workers and a Celery worker and beat share a pool of a few server connections, orders are placed
concurrently, the oversell race is won by exactly the stock, and the ERP relay drains."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from tests.erp_sync.conftest import BASE_DIR, wait_until
from tests.ops.stack import ORDER_PATH, Kiosks, order_body

POOL_SIZE = 4


@pytest.fixture(scope="module", autouse=True)
def _pgbouncer_installed():
    subprocess.run([str(BASE_DIR / "scripts" / "ensure-pgbouncer.sh")], check=True)  # noqa: S603


@pytest.mark.slow
def test_api_journey_through_pgbouncer_in_transaction_mode(pg_cluster, oms_stack, fake_erp):
    server = pg_cluster("primary")
    server.create_database("oms")
    bouncer = pg_cluster.pgbouncer(server, pool_mode="transaction", pool_size=POOL_SIZE)
    # Migrations run against the server itself (as docs/operations.md says); everything else, the
    # seeding included, goes through the pooler.
    oms_stack(server.url("oms"), name="migrate").manage("migrate", "--no-input", "-v", "0")
    stack = oms_stack(bouncer.url("oms"), OMS_DB_POOLER="transaction")
    world = stack.world("seed", "--erp-url", fake_erp.url, "--scarce", "10")
    stack.start_web(workers=4)
    stack.start_celery()
    kiosks = Kiosks(stack.url, world["kiosk_key"])

    # The oversell race: 30 buyers of 1 t of the 10 t in stock, all at once, 8 kiosks at a time.
    with kiosks.client() as client, ThreadPoolExecutor(8) as pool:
        race = list(pool.map(lambda _: kiosks.place(client, order_body(world, sku="SCARCE")), range(30)))
    assert sorted(a.status for a in race) == [201] * 10 + [409] * 20
    assert {a.body["code"] for a in race if a.status == 409} == {"insufficient_stock"}
    stock = server.query(
        "SELECT s.on_hand, s.allocated FROM catalog_stocklevel s JOIN catalog_product p ON p.id = s.product_id "
        "WHERE p.sku = 'SCARCE'",
        database="oms",
    )
    assert stock == [(Decimal("10.000"), Decimal("10.000"))]

    # 60 more orders from 8 kiosks at once.
    kiosks.run([order_body(world) for _ in range(60)], threads=8)
    placed = {a.body["number"] for a in kiosks.results.values() if a.status == 201}
    assert len(placed) == 70
    assert kiosks.statuses() == {201: 70, 409: 20}

    # A retry with a used key answers the first response again and places nothing.
    first = next(a for a in race if a.status == 201)
    with kiosks.client() as client:
        again = client.post(
            ORDER_PATH, json=order_body(world, sku="SCARCE"), headers={"Idempotency-Key": first.key}
        )
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (
        201,
        first.body,
        "true",
    )
    assert server.query("SELECT count(*) FROM orders_order", database="oms") == [(70,)]

    # The relay (Celery worker through the pooler) tells the ERP about every order, once.
    wait_until(lambda: len(fake_erp.delivered("order.created")) == 70, timeout=90, message="70 order.created")
    assert {m["entity"]["key"] for m in fake_erp.delivered("order.created")} == placed
    wait_until(
        lambda: (
            server.query("SELECT count(*) FROM oms_outboxmessage WHERE status <> 'sent'", database="oms")
            == [(0,)]
        ),
        timeout=30,
        message="outbox drained",
    )

    # Everything went through PgBouncer, over no more than its pool of server connections.
    (pool_row,) = [row for row in bouncer.show("POOLS") if row["database"] == "oms"]
    assert pool_row["pool_mode"] == "transaction"
    assert pool_row["sv_active"] + pool_row["sv_idle"] + pool_row["sv_used"] <= POOL_SIZE
    (stats,) = [row for row in bouncer.show("STATS") if row["database"] == "oms"]
    assert stats["total_xact_count"] > 70 * 2
    backends = server.query(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'oms' AND backend_type = 'client backend'"
    )[0][0]
    assert backends <= POOL_SIZE
