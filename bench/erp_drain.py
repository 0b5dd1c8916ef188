"""Benchmark: outbox drain rate to a local fake ERP, with one and with two real Celery workers.

Method: a fresh PostgreSQL database; MESSAGES outbox rows (one per aggregate, so every row is a
head and batches fill up; plus a run with 4 messages per aggregate) are bulk-inserted for an
`http_json` ERP pointing at the loopback fake ERP of the test suite (threaded http.server; it
checks token and signature, dedupes, answers per message). Idle workers are started first (`celery
worker --pool prefork -c 1`, Redis broker); the clock starts with one `relay_nudge` per worker and
stops when no row is left unsent. Rate = messages / wall time. Batch size OMS_ERP_BATCH_SIZE (default 500).

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_bench_erp_drain .venv/bin/python bench/erp_drain.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from common import configure, prepare_database, start_celery_worker, stop_celery_workers

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_bench_erp_drain", "bench-erp")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/13")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", 20000))


def workers(count: int, log_prefix: str) -> list:
    logs = Path(os.environ["OMS_VAR_DIR"]) / "bench-logs"
    procs = [start_celery_worker(env={}, log=logs / f"{log_prefix}-{i}.log") for i in range(count)]
    time.sleep(6)  # start-up is not part of the measurement
    return procs


def fill(count: int, per_aggregate: int) -> None:
    from django.utils import timezone

    from oms.models import ErpSystem, OutboxAggregate, OutboxMessage

    system = ErpSystem.objects.get(code="BENCH")
    OutboxMessage.objects.all().delete()
    OutboxAggregate.objects.all().delete()
    now = timezone.now()
    payload = {"number": "ORD-2026-000000", "lines": [{"position": 1, "sku": "AGG-0-4", "quantity": "8.000"}]}
    rows = []
    for i in range(count):
        aggregate, sequence = divmod(i, per_aggregate)
        rows.append(
            OutboxMessage(
                system=system,
                type="order.correction",
                aggregate_type="order",
                aggregate_id=f"ORD-B-{aggregate:07d}",
                sequence=sequence + 1,
                version=sequence + 1,
                payload=payload,
                next_attempt_at=now,
                created_at=now,
            )
        )
    OutboxMessage.objects.bulk_create(rows, batch_size=2000)


def run(worker_count: int, per_aggregate: int, erp) -> float:
    import redis
    from django.conf import settings

    from erp_sync.tasks import relay_nudge
    from oms.models import OutboxMessage

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    fill(MESSAGES, per_aggregate)
    procs = workers(worker_count, f"drain-{worker_count}-{per_aggregate}")
    with erp.lock:
        erp.accepted.clear()
        erp.arrivals.clear()
        erp.attempts.clear()
    started = time.perf_counter()
    for _ in range(worker_count):
        relay_nudge.apply_async()
    while OutboxMessage.objects.exclude(status="sent").exists():
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop_celery_workers(procs)
    assert len(erp.accepted) == MESSAGES, len(erp.accepted)
    assert erp.reordered_aggregates() == []
    return MESSAGES / elapsed


def main() -> int:
    prepare_database(DATABASE_URL, fresh=True)
    import django

    django.setup()
    from erp_sync import secrets
    from oms.models import ErpSystem
    from tests.erp_sync.fake_erp import FakeErp  # the repository root is on sys.path (common)

    erp = FakeErp(token="t", secret="s").start()
    ErpSystem.objects.create(
        code="BENCH",
        adapter="http_json",
        base_url=erp.url,
        is_default=True,
        token_encrypted=secrets.encrypt("t"),
        secret_encrypted=secrets.encrypt("s"),
    )
    results = []
    for per_aggregate in (1, 4):
        for count in (1, 2):
            rate = run(count, per_aggregate, erp)
            results.append((count, per_aggregate, rate))
            print(
                f"workers={count} messages/aggregate={per_aggregate}: {MESSAGES} messages, {rate:,.0f} msg/s",
                flush=True,
            )
    erp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
