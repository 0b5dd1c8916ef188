"""Benchmark: GPS position ingestion through the driver API, batches of 500, real HTTP.

Method: a dedicated PostgreSQL database is migrated and seeded with TRUCKS trucks, each on a
released tour of its own driver (with one open delivery job, so every batch also recomputes ETAs).
gunicorn (sync workers, DEBUG off) serves the project on a loopback port; CLIENTS client threads
with keep-alive connections POST `/api/v1/driver/positions/` batches of BATCH points, round-robin
over the trucks, for DURATION seconds after a short warm-up. Reported: accepted positions per
second (server-confirmed `accepted` counts / wall time) and request latency percentiles.

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_fleet_bench .venv/bin/python bench/fleet_positions.py

Environment knobs: BENCH_WORKERS (gunicorn workers, default 2 × CPUs), BENCH_CLIENTS (default
8), BENCH_SECONDS (default 20), BENCH_BATCH (default 500), BENCH_TRUCKS (default 20), BENCH_PORT.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import threading
import time
from datetime import timedelta

from common import configure, prepare_database, start_gunicorn, stop_gunicorn

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_fleet_bench", "bench-fleet")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

WORKERS = int(os.environ.get("BENCH_WORKERS", 2 * (os.cpu_count() or 1)))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 8))
SECONDS = float(os.environ.get("BENCH_SECONDS", 20))
BATCH = int(os.environ.get("BENCH_BATCH", 500))
TRUCKS = int(os.environ.get("BENCH_TRUCKS", 20))
PORT = int(os.environ.get("BENCH_PORT", 8765))
WARMUP = 3.0


def seed() -> list[tuple[str, str]]:
    """TRUCKS (truck code, driver key) pairs, each truck on a released tour with an open job."""
    import django

    django.setup()
    from django.utils import timezone

    from catalog.models import Plant
    from fleet.models import Driver, PositionReport, Truck
    from fleet.selectors import driver_today
    from fleet.services import job_assign, tour_plan, tour_release
    from fleet.services.dispatch import job_create
    from fleet.services.keys import driver_key_issue
    from oms.lib.actors import Actor

    actor = Actor.system("bench")
    plant, _ = Plant.objects.get_or_create(
        code="BENCH", defaults={"name": "Bench plant", "lat": 42.70, "lon": 23.30, "timezone": "Europe/Sofia"}
    )
    PositionReport.objects.filter(truck__plant=plant).delete()
    pairs = []
    stamp = int(time.time())
    for i in range(TRUCKS):
        truck = Truck.objects.create(code=f"B{stamp % 100000}-{i}", plant=plant)
        driver = Driver.objects.create(code=f"BD{stamp % 100000}-{i}", name=f"Bench {i}", plant=plant)
        tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=actor)
        job = job_create(
            plant=plant, actor=actor, type="homerun", planned_at=timezone.now() + timedelta(hours=1)
        )
        job_assign(job=job, tour=tour, actor=actor)
        tour_release(tour=tour, actor=actor)
        _, key = driver_key_issue(driver=driver, name="bench")
        pairs.append((truck.code, key))
    return pairs


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0
        self.requests = 0
        self.errors = 0
        self.latencies: list[float] = []


def client_loop(index: int, pairs, stop_at: float, measure_from: float, counter: Counter) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    base = time.time() - 3600
    sequence = 0
    while time.time() < stop_at:
        truck, key = pairs[(index + sequence) % len(pairs)]
        sequence += 1
        start = base + sequence * BATCH * 0.001
        body = json.dumps(
            {
                "truck": truck,
                "positions": [
                    {
                        "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start + i * 0.001))
                        + f".{i % 1000:03d}+00:00",
                        "lat": 42.70 + i * 1e-5,
                        "lon": 23.30 + i * 1e-5,
                        "speed": 42.0,
                        "heading": 90.0,
                    }
                    for i in range(BATCH)
                ],
            }
        )
        began = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/driver/positions/",
            body=body,
            headers={"Authorization": f"Token {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        payload = response.read()
        elapsed = time.perf_counter() - began
        if time.time() < measure_from:
            continue
        with counter.lock:
            counter.requests += 1
            counter.latencies.append(elapsed)
            if response.status == 202:
                counter.accepted += json.loads(payload)["accepted"]
            else:
                counter.errors += 1


def main() -> None:
    prepare_database(DATABASE_URL)
    pairs = seed()
    server = start_gunicorn(port=PORT, workers=WORKERS, env={})
    try:
        counter = Counter()
        now = time.time()
        measure_from, stop_at = now + WARMUP, now + WARMUP + SECONDS
        threads = [
            threading.Thread(target=client_loop, args=(i, pairs, stop_at, measure_from, counter))
            for i in range(CLIENTS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - measure_from
    finally:
        stop_gunicorn(server)
    latencies = sorted(counter.latencies)
    rate = counter.accepted / wall
    print(
        json.dumps(
            {
                "positions_per_second": round(rate),
                "requests": counter.requests,
                "errors": counter.errors,
                "batch": BATCH,
                "workers": WORKERS,
                "clients": CLIENTS,
                "seconds": round(wall, 1),
                "latency_ms": {
                    "p50": round(statistics.median(latencies) * 1000, 1),
                    "p95": round(latencies[int(len(latencies) * 0.95) - 1] * 1000, 1),
                    "max": round(latencies[-1] * 1000, 1),
                },
            }
        )
    )
    if rate < 5000:
        raise SystemExit(f"below target: {rate:.0f} positions/s < 5000")


if __name__ == "__main__":
    main()
