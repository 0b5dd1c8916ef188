"""Benchmark: order creation through the kiosk API vs a trivial authenticated endpoint, real HTTP.

Method: a dedicated PostgreSQL database is migrated and seeded with one plant, a kiosk sales point
with a device key, a customer with a saved site and a stocked product with ample stock, then
vacuumed, analyzed and checkpointed (as pgbench does before its runs). gunicorn (sync workers, DEBUG
off) serves the project on a loopback port. In the same run, CLIENTS threads with keep-alive
connections GET `/api/v1/products/{sku}/` (the trivial endpoint: token auth + one indexed read) and
POST `/api/v1/orders/` (a fresh Idempotency-Key per request: idempotency claim, placement with stock
allocation, timeline event, outbox row, stored response) in ROUNDS rounds of GET, POST, POST, GET,
each period SECONDS seconds after a short warm-up, so that drift of the shared machine weighs on
both alike. Reported per endpoint over all its periods: requests per second and latency p50/p99,
and the ratio of the two throughputs.

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_api_bench .venv/bin/python bench/api_orders.py

Environment knobs: BENCH_WORKERS (gunicorn workers, default 2 × CPUs), BENCH_CLIENTS (default 16),
BENCH_SECONDS (per period, default 10), BENCH_ROUNDS (default 2: 40 s per endpoint), BENCH_PORT. Targets: orders ≥ 35 % of the trivial endpoint's
throughput, order p99 < 150 ms.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import uuid
from decimal import Decimal

from common import configure, prepare_database, settle_database, start_gunicorn, stop_gunicorn

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_api_bench", "bench-api")
# Relay nudges go nowhere: the benchmark measures the web tier, not the broker.
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ["OMS_ORDER_RATE_PER_MINUTE"] = "10000000"
os.environ["OMS_CUSTOMER_API_RATE_PER_MINUTE"] = "10000000"

WORKERS = int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1)))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 16))
SECONDS = float(os.environ.get("BENCH_SECONDS", 10))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 2))
PORT = int(os.environ.get("BENCH_PORT", 8766))
WARMUP = 3.0
SKU = "BENCH-C25"


def seed() -> dict[str, str]:
    import django

    django.setup()
    from catalog.models import Plant, Product, StockLevel
    from customers.models import Customer, Site
    from orders.models import Channel, SalesPoint
    from orders.services.clients import api_client_issue

    plant, _ = Plant.objects.get_or_create(
        code="BENCH", defaults={"name": "Bench plant", "lat": 42.70, "lon": 23.30, "timezone": "Europe/Sofia"}
    )
    point, _ = SalesPoint.objects.get_or_create(
        code="BENCH-KIOSK", defaults={"name": "Bench kiosk", "channel": Channel.KIOSK, "plant": plant}
    )
    product, _ = Product.objects.get_or_create(
        sku=SKU, defaults={"name": "Bench concrete", "unit": "m3", "unit_price": Decimal("95.00")}
    )
    StockLevel.objects.update_or_create(
        plant=plant,
        product=product,
        defaults={"on_hand": Decimal("100000000.000"), "allocated": Decimal("0")},
    )
    customer, _ = Customer.objects.get_or_create(
        number="C-BENCH1", defaults={"name": "Bench Customer", "email": "bench@example.com"}
    )
    site, _ = Site.objects.get_or_create(
        customer=customer, name="Bench site", defaults={"address": "1 Bench St", "lat": 42.7, "lon": 23.3}
    )
    _, key = api_client_issue(sales_point=point, name="bench")
    return {"key": key, "customer": customer.number, "site": str(site.public_id)}


class Phase:
    def __init__(self, name: str, expected_status: int):
        self.name = name
        self.expected_status = expected_status
        self.lock = threading.Lock()
        self.ok = 0
        self.errors = 0
        self.latencies: list[float] = []
        self.wall = 0.0


def client_loop(phase: Phase, request, stop_at: float, measure_from: float) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    while time.time() < stop_at:
        method, path, body, headers = request()
        began = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - began
        if time.time() < measure_from:
            continue
        with phase.lock:
            phase.latencies.append(elapsed)
            if response.status == phase.expected_status:
                phase.ok += 1
            else:
                phase.errors += 1


def run_phase(phase: Phase, request) -> Phase:
    """Run one measured period of `phase` (a phase may run several periods; walls add up)."""
    now = time.time()
    measure_from, stop_at = now + WARMUP, now + WARMUP + SECONDS
    threads = [
        threading.Thread(target=client_loop, args=(phase, request, stop_at, measure_from))
        for _ in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    phase.wall += time.time() - measure_from
    return phase


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def summary(phase: Phase) -> dict[str, float | int | str]:
    return {
        "phase": phase.name,
        "rate": phase.ok / phase.wall,
        "ok": phase.ok,
        "errors": phase.errors,
        "p50_ms": percentile(phase.latencies, 0.50) * 1000,
        "p99_ms": percentile(phase.latencies, 0.99) * 1000,
    }


def main() -> dict:
    prepare_database(DATABASE_URL)
    world = seed()
    settle_database(DATABASE_URL)
    auth = {"Authorization": f"Token {world['key']}"}
    order = json.dumps(
        {
            "customer": {"number": world["customer"]},
            "fulfilment": "delivery",
            "site": {"id": world["site"]},
            "lines": [{"sku": SKU, "quantity": "1.000"}],
            "window": {"from": "08:00", "to": "10:00"},
        }
    )

    def trivial():
        return "GET", f"/api/v1/products/{SKU}/", None, auth

    def place():
        headers = {**auth, "Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
        return "POST", "/api/v1/orders/", order, headers

    server = start_gunicorn(port=PORT, workers=WORKERS, env={})
    reads, writes = Phase("GET /api/v1/products/{sku}/", 200), Phase("POST /api/v1/orders/", 201)
    try:
        # Rounds of A B B A: drift of the shared machine during the run weighs on both endpoints alike.
        rounds = ((reads, trivial), (writes, place), (writes, place), (reads, trivial)) * ROUNDS
        for phase, request in rounds:
            run_phase(phase, request)
    finally:
        stop_gunicorn(server)
    read, write = summary(reads), summary(writes)
    ratio = write["rate"] / read["rate"]
    print(
        f"gunicorn sync workers={WORKERS}, clients={CLIENTS}, {2 * ROUNDS} x {SECONDS:.0f} s per endpoint "
        f"(order GET, POST, POST, GET), PostgreSQL"
    )
    for row in (read, write):
        print(
            f"{row['phase']:<32} {row['rate']:8.1f} req/s  p50 {row['p50_ms']:6.1f} ms  "
            f"p99 {row['p99_ms']:6.1f} ms  ok {row['ok']}  errors {row['errors']}"
        )
    print(
        f"order creation = {ratio:.1%} of the trivial endpoint (target ≥ 35%); "
        f"order p99 {write['p99_ms']:.1f} ms (target < 150 ms)"
    )
    return {"trivial": read, "orders": write, "ratio": ratio}


if __name__ == "__main__":
    main()
