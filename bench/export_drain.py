"""Benchmark: the ERP outbox drain alone, and beside a long console export of a big order table.

The acceptance it measures: "a 30-minute export and an ERP drain run together: the drain's throughput
stays within 20 % of its solo figure, and the export runs once".

Method: a PostgreSQL database with ORDERS orders (`seed_demo --size small`, then its 2,000 orders copied
by `INSERT … SELECT` under new numbers until there are enough; kept between runs, topped up when
short). Two real Celery workers as in production (docs/operations.md, "Queues and workers"): one on
`erp`, one on `files`, each `--pool prefork -c 1`, Redis broker (or whatever CELERY_BROKER_URL says),
and the loopback fake ERP of the test suite (`http_json`). A drain round bulk-inserts MESSAGES outbox
rows (one per aggregate, so every row is a head), then the clock runs from one `relay_nudge` to the
moment no row is unsent; rate = messages / wall time.

Rounds: SOLO rounds with nothing else running; then the console queues the export
(`console.services.order_export_queue`, the code path of the console's export button, which sends
`console.export_orders` to the `files` queue) and, for as long as it runs, cycles of paired rounds: a
solo round with the export's worker stopped (SIGSTOP of its process group, SIGCONT after), then 4
rounds beside the running export (a cycle that the export's end cuts short is not counted); then SOLO
rounds again. The machine is shared and noisy, so the together rounds are compared with the solo
round seconds before them (per cycle: mean of the 4 / the solo round; reported: the median over the
cycles); the rounds before and after the export check that a stopped export weighs like none. The
export's running time is its wall time less its stops. It must run exactly once: one
`console.export_orders … received` and one `… succeeded` line in the files worker's log, one CSV in
the user's export folder with a header and exactly the counted rows, no `.part` marker left.

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_bench_export_drain \\
        .venv/bin/python bench/export_drain.py --minutes 30

`--minutes` sizes the table (ORDERS = minutes × 60 × BENCH_EXPORT_ROWS_PER_SECOND, 1,800 by default:
measure the rate on the host with `--minutes 1` and set it); `--orders N` sets it directly;
`--export-orders N` exports only the newest N or so (a `created_from` day, as a user would filter) of
a bigger table. The long task limit is raised to twice `--minutes`, so that the export is not
stopped by it. The bench re-nudges a round that made no progress for 5 s, as the beat's sweep would.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import time
from pathlib import Path

from common import configure, manage, prepare_database, start_celery_worker, stop_celery_workers

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_bench_export_drain", "bench-export-drain")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", 5000))
SOLO = int(os.environ.get("BENCH_SOLO_ROUNDS", 3))
TOGETHER_PER_SOLO = 4
STALL_SECONDS = 5.0
ROWS_PER_SECOND = int(os.environ.get("BENCH_EXPORT_ROWS_PER_SECOND", 1800))
EXPORT_USER_ID = 1
LOGS = Path(os.environ["OMS_VAR_DIR"]) / "bench-logs"

# Copies of the seeded orders under new numbers, public ids and tracking tokens; `created_at` spread
# back in time so that the export's `ORDER BY created_at DESC, id DESC` has real work to do.
CLONE_ORDERS = """
INSERT INTO orders_order (
    public_id, number, tracking_token, address, channel, external_ref, fulfilment, status, status_before,
    on_call, requested_date, window_from, window_to, currency, net_total, tax_total, gross_total, notes,
    erp_order_number, erp_sync_state, loading_started_at, version, created_at, updated_at, created_by_id,
    customer_id, erp_system_id, plant_id, site_id, sales_point_id, load_spacing_minutes, loads_paused)
SELECT gen_random_uuid(), 'ORD-X-' || lpad(g::text, 9, '0'), md5(g::text || 'x'), o.address, o.channel, '',
    o.fulfilment, o.status, o.status_before, o.on_call, o.requested_date, o.window_from, o.window_to,
    o.currency, o.net_total, o.tax_total, o.gross_total, o.notes, o.erp_order_number, o.erp_sync_state,
    o.loading_started_at, o.version, o.created_at - make_interval(secs => g), o.updated_at,
    o.created_by_id, o.customer_id, o.erp_system_id, o.plant_id, o.site_id, o.sales_point_id,
    o.load_spacing_minutes, o.loads_paused
FROM generate_series(%(first)s, %(last)s) AS g
JOIN (SELECT *, row_number() OVER (ORDER BY id) - 1 AS k FROM orders_order WHERE number NOT LIKE 'ORD-X-%%') o
    ON o.k = g %% %(seeded)s
"""


def build_orders(target: int) -> int:
    """At least `target` orders: seed once, then copy the seeded orders in chunks of 500,000."""
    from django.db import connection

    from orders.models import Order

    if not Order.objects.exists():
        manage("seed_demo", "--size", "small", database_url=DATABASE_URL)
    seeded = Order.objects.exclude(number__startswith="ORD-X-").count()
    copies = Order.objects.filter(number__startswith="ORD-X-").count()
    while seeded + copies < target:
        first = copies + 1
        last = min(copies + 500_000, target - seeded)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(CLONE_ORDERS, {"first": first, "last": last, "seeded": seeded})
        copies = last
        print(f"  orders: {seeded + copies:,} ({time.perf_counter() - started:.0f} s)", flush=True)
    return seeded + copies


def fill(count: int) -> None:
    from django.utils import timezone

    from oms.models import ErpSystem, OutboxAggregate, OutboxMessage

    system = ErpSystem.objects.get(code="BENCH")
    OutboxMessage.objects.all().delete()
    OutboxAggregate.objects.all().delete()
    now = timezone.now()
    payload = {"number": "ORD-2026-000000", "lines": [{"position": 1, "sku": "AGG-0-4", "quantity": "8.000"}]}
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                system=system,
                type="order.correction",
                aggregate_type="order",
                aggregate_id=f"ORD-B-{i:07d}",
                sequence=1,
                version=1,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )


def drain_round(erp) -> float:
    """Messages per second of one drain of MESSAGES rows."""
    from erp_sync.tasks import relay_nudge
    from oms.models import OutboxMessage

    fill(MESSAGES)
    with erp.lock:
        erp.accepted.clear()
        erp.arrivals.clear()
        erp.attempts.clear()
    started = time.perf_counter()
    relay_nudge.apply_async()
    unsent, since = MESSAGES, time.monotonic()
    while left := OutboxMessage.objects.exclude(status="sent").count():
        if left < unsent:
            unsent, since = left, time.monotonic()
        elif time.monotonic() - since > STALL_SECONDS:  # the nudge chain broke (e.g. the database
            relay_nudge.apply_async()  # refused a connection): nudge again, as the beat's sweep would
            since = time.monotonic()
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    assert len(erp.accepted) == MESSAGES, len(erp.accepted)
    assert erp.reordered_aggregates() == []
    return MESSAGES / elapsed


def export_files() -> list[str]:
    from django.core.files.storage import default_storage

    from console.services import export_path

    folder = export_path(EXPORT_USER_ID)
    return sorted(default_storage.listdir(folder)[1]) if default_storage.exists(folder) else []


def log_lines(log: Path, what: str) -> int:
    pattern = re.compile(rf"console\.export_orders\[[0-9a-f-]+\].*{what}")
    return sum(1 for line in log.read_text().splitlines() if pattern.search(line))


def check_export(name: str, log: Path, orders: int) -> None:
    """The export ran once: one start, one success, one complete file and nothing else."""
    from django.core.files.storage import default_storage

    from console.services import export_path

    assert export_files() == [name], export_files()
    assert log_lines(log, "received") == 1, log_lines(log, "received")
    assert log_lines(log, "succeeded") == 1, log_lines(log, "succeeded")
    with default_storage.open(export_path(EXPORT_USER_ID, name), "rb") as csv:
        rows = sum(1 for _ in csv) - 1  # the header; no field of the copied orders has a newline
    assert rows == orders, (rows, orders)


def export_filters(newest: int | None) -> dict:
    """The console's filters for an export of all orders, or of those created on or after the day of
    the `newest`-th newest order (the export then walks the whole table and writes that many or so)."""
    from orders.models import Order

    if not newest:
        return {}
    day = Order.objects.order_by("-created_at").values_list("created_at", flat=True)[newest - 1]
    return {"created_from": day.date().isoformat()}


def summary(label: str, rates: list[float]) -> str:
    return f"{label}: median {statistics.median(rates):,.0f} msg/s over {len(rates)} rounds ({', '.join(f'{r:,.0f}' for r in rates)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="expected length of the export")
    parser.add_argument("--orders", type=int, help="orders in the table (default: from --minutes)")
    parser.add_argument(
        "--export-orders", type=int, help="export the newest N or so (a `created_from` day) instead of all"
    )
    args = parser.parse_args()
    orders_wanted = args.orders or int(args.minutes * 60 * ROWS_PER_SECOND)
    os.environ["OMS_LONG_TASK_TIME_LIMIT"] = str(max(1900, int(args.minutes * 60 * 2)))

    prepare_database(DATABASE_URL)
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.files.storage import default_storage
    from django.db import connection, transaction

    from console.selectors.exports import order_export_queryset
    from console.services import export_path, order_export_queue
    from erp_sync import secrets
    from oms.models import ErpSystem, OutboxMessage
    from tests.erp_sync.fake_erp import FakeErp  # the repository root is on sys.path (common)

    print(f"building the order table ({orders_wanted:,} orders)", flush=True)
    orders = build_orders(orders_wanted)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE orders_order")
    for name in export_files():
        default_storage.delete(export_path(EXPORT_USER_ID, name))
    filters = export_filters(args.export_orders)
    exported = order_export_queryset(filters).count()
    print(f"export filters {filters}: {exported:,} orders", flush=True)
    if settings.BROKER_KIND == "redis":
        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()

    erp = FakeErp(token="t", secret="s").start()
    OutboxMessage.objects.all().delete()  # an earlier run's rows, then its ERP
    ErpSystem.objects.filter(code="BENCH").delete()
    ErpSystem.objects.create(
        code="BENCH",
        adapter="http_json",
        base_url=erp.url,
        is_default=True,
        token_encrypted=secrets.encrypt("t"),
        secret_encrypted=secrets.encrypt("s"),
    )
    files_log = LOGS / "files.log"
    env = {"OMS_ERP_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "LOG_LEVEL": "WARNING"}
    workers = [
        start_celery_worker(env=env, log=LOGS / "erp.log", queues="erp"),
        # INFO: the files worker logs each task received and finished (`check_export` counts them).
        start_celery_worker(env={**env, "LOG_LEVEL": "INFO"}, log=files_log, queues="files", loglevel="INFO"),
    ]
    time.sleep(8)  # start-up is not part of the measurement
    print(
        f"{orders:,} orders; drain rounds of {MESSAGES:,} messages; broker {settings.BROKER_KIND}; "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    try:
        drain_round(erp)  # warm-up: connections, caches, the workers' first imports
        before = [drain_round(erp) for _ in range(SOLO)]
        print(summary("solo before", before), flush=True)

        with transaction.atomic():
            name = order_export_queue(user_id=EXPORT_USER_ID, filters=filters)
        export_started = time.monotonic()
        target = export_path(EXPORT_USER_ID, name)
        files_worker = workers[1]
        paused = 0.0
        cycles: list[tuple[float, list[float]]] = []
        while not default_storage.exists(target):
            # Solo: the export's worker (its process group: main process and pool child) is stopped.
            os.killpg(files_worker.pid, signal.SIGSTOP)
            stopped = time.monotonic()
            try:
                solo = drain_round(erp)
            finally:
                os.killpg(files_worker.pid, signal.SIGCONT)
                paused += time.monotonic() - stopped
            together = [drain_round(erp) for _ in range(TOGETHER_PER_SOLO)]
            if default_storage.exists(target):
                break  # the export ended during these rounds: they were not "together" throughout
            cycles.append((solo, together))
            if len(cycles) % 10 == 0:
                print(f"  {len(cycles)} cycles, last {solo:,.0f} / {together[-1]:,.0f} msg/s", flush=True)
        while log_lines(files_log, "succeeded") == 0:
            time.sleep(0.5)
        export_minutes = (time.monotonic() - export_started) / 60
        solo_rates = [solo for solo, _ in cycles]
        together_rates = [rate for _, together in cycles for rate in together]
        print(summary("solo, export paused", solo_rates), flush=True)
        print(summary("together", together_rates), flush=True)

        after = [drain_round(erp) for _ in range(SOLO)]
        print(summary("solo after", after), flush=True)
        time.sleep(5)  # a redelivered export would show in the log by now
        check_export(name, files_log, exported)
    finally:
        stop_celery_workers(workers)
        erp.stop()

    ratio = statistics.median(statistics.mean(together) / solo for solo, together in cycles)
    print(
        f"export of {exported:,} of {orders:,} orders: {export_minutes:.1f} min, "
        f"{export_minutes - paused / 60:.1f} min of it running; ran once (1 received, 1 succeeded, "
        f"1 file of {exported:,} rows)"
    )
    print(
        f"drain over {len(cycles)} cycles: solo {statistics.median(solo_rates):,.0f} msg/s, beside the export "
        f"{statistics.median(together_rates):,.0f} msg/s; together/solo per cycle, median {ratio:.3f} "
        f"({(ratio - 1) * 100:+.1f} %); solo with no export {statistics.median(before + after):,.0f} msg/s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
