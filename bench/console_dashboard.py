"""Latency of the console dashboard, "Picture of the day" (`/admin/console/dashboard/`).

Run against the large dataset (1,000,000 orders); the script migrates the database first, seeds an
empty one with `seed_demo --size BENCH_SEED_SIZE` (default small), then adds once, in SQL, the fleet
history the dashboard reads (marked `BTK-…` / `BT-…`, so a second run finds it):

- the open orders, which the seed puts on four days, spread over 60 days from the first of them,
  every fourth one left on that first day: about 2,300 loads a day across three plants, the first
  day ≈ 46,000 (the stress day);
- a tour per truck and day over the orders' requested dates;
- one delivery load per order that reached the fleet (scheduled, in delivery, partially delivered,
  delivered, completed), on a tour of its plant's truck (order id mod 4); the delivered ones
  delivered between an hour before and four hours after the window opened (Sofia time), one in 50
  failed instead; a job line per order line with its delivered quantity, and the load's m³;
- a call-back for every 20th order an hour after it was placed, nine in ten started 0–36 minutes
  later;
- one sent `order.created` outbox message per order (those of the last two hours every third one
  still pending) and the backlog samples of the last 8 days, every 5 minutes.

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_large .venv/bin/python bench/console_dashboard.py

Measured: whole pages through the Django test client as an admin (selector, charts and template),
in four kinds — today for every plant, the stress day for every plant, today for one plant, a past
day (of the last 60) for every plant — and the selector alone. Each request once to warm up, then
`--rounds` times; prints p50/p95/p99/max per kind and the queries of one page, as a markdown table.
Environment knobs:
BENCH_PER_KIND (default 20), BENCH_ROUNDS (default 3), BENCH_SEED_SIZE (small or large).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
from datetime import timedelta

from common import configure, manage, pct, prepare_database, settle_database

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_large", "bench-dashboard")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

FLEET_HISTORY = [
    # `seed_demo` puts the open orders on four days (≈ 128,000 orders each): spread them over 60 days
    # from the first of them, every fourth one left on that first day, the stress day.
    """
    WITH busy AS (SELECT requested_date FROM orders_order GROUP BY requested_date HAVING count(*) > 10000)
    UPDATE orders_order
    SET requested_date = (SELECT min(requested_date) FROM busy)
                         + CASE WHEN id % 4 = 0 THEN 0 ELSE 1 + (id / 4 % 59)::int END
    WHERE requested_date IN (SELECT requested_date FROM busy)
    """,
    # tours: one per truck and requested date
    """
    INSERT INTO fleet_tour (number, date, plant_id, truck_id, status, version)
    SELECT 'BT-' || t.id || '-' || to_char(d, 'YYYYMMDD'), d::date, t.plant_id, t.id, 'completed', 1
    FROM fleet_truck t
    CROSS JOIN generate_series(
        (SELECT min(requested_date) FROM orders_order), (SELECT max(requested_date) FROM orders_order),
        interval '1 day'
    ) AS d
    """,
    # loads: one per order that reached the fleet
    """
    WITH trucks AS (
        SELECT id, plant_id, (row_number() OVER (PARTITION BY plant_id ORDER BY id) - 1) AS k,
               count(*) OVER (PARTITION BY plant_id) AS n
        FROM fleet_truck
    )
    INSERT INTO fleet_job (public_id, tour_id, sequence, type, order_id, plant_id, ticket, loading_status,
                           status, delivered_at, failure_reason, failure_note, delivered_m3, version, created_at)
    SELECT gen_random_uuid(), tour.id, 1, 'delivery', o.id, o.plant_id, 'BTK-' || o.id, 'loaded',
           CASE WHEN o.status IN ('delivered', 'completed', 'partially_delivered')
                     AND o.id % 50 <> 0 THEN 'delivered'
                WHEN o.status IN ('delivered', 'completed', 'partially_delivered') THEN 'failed'
                WHEN o.status = 'in_delivery' THEN 'en_route'
                ELSE 'assigned' END,
           CASE WHEN o.status IN ('delivered', 'completed', 'partially_delivered') AND o.id % 50 <> 0
                THEN ((o.requested_date + coalesce(o.window_from, time '08:00'))
                      + (o.id % 300 - 60) * interval '1 minute') AT TIME ZONE 'Europe/Sofia' END,
           '', '', 0, 1, o.created_at
    FROM orders_order o
    JOIN trucks ON trucks.plant_id = o.plant_id AND trucks.k = o.id % trucks.n
    JOIN fleet_tour tour ON tour.truck_id = trucks.id AND tour.date = o.requested_date AND tour.number LIKE 'BT-%'
    WHERE o.fulfilment = 'delivery'
      AND o.status IN ('scheduled', 'in_delivery', 'partially_delivered', 'delivered', 'completed')
    """,
    """
    INSERT INTO fleet_jobline (job_id, order_line_id, planned, loaded, delivered, returned)
    SELECT j.id, l.id, l.quantity, l.loaded, CASE WHEN j.status = 'delivered' THEN l.delivered ELSE 0 END, 0
    FROM fleet_job j JOIN orders_orderline l ON l.order_id = j.order_id
    WHERE j.ticket LIKE 'BTK-%'
    """,
    # each load's m³, as the fleet services keep it
    """
    UPDATE fleet_job SET delivered_m3 = m3.total
    FROM (
        SELECT l.job_id, sum(l.delivered) AS total
        FROM fleet_jobline l JOIN orders_orderline ol ON ol.id = l.order_line_id AND ol.unit = 'm3'
        GROUP BY l.job_id
    ) AS m3
    WHERE fleet_job.id = m3.job_id AND fleet_job.ticket LIKE 'BTK-%'
    """,
    """
    INSERT INTO fleet_callrequest (public_id, kind, status, customer_id, order_id, requested_by_role,
                                   requested_by, phone, reason, outcome, due_at, created_at, started_at)
    SELECT gen_random_uuid(), 'callback', CASE WHEN o.id % 200 = 0 THEN 'open' ELSE 'in_progress' END,
           o.customer_id, o.id, 'customer', '', '', 'bench', '', o.created_at + interval '75 minutes',
           o.created_at + interval '1 hour',
           CASE WHEN o.id % 200 <> 0 THEN o.created_at + interval '1 hour' + (o.id % 37) * interval '1 minute' END
    FROM orders_order o WHERE o.id % 20 = 0
    """,
    """
    INSERT INTO oms_outboxmessage (id, type, aggregate_type, aggregate_id, sequence, version, payload, status,
                                   attempts, next_attempt_at, last_error, created_at, sent_at)
    SELECT gen_random_uuid(), 'order.created', 'order', o.number, 1, 1, '{}',
           CASE WHEN o.created_at > now() - interval '2 hours' AND o.id % 3 = 0 THEN 'pending' ELSE 'sent' END,
           1, o.created_at, '', o.created_at,
           CASE WHEN o.created_at > now() - interval '2 hours' AND o.id % 3 = 0 THEN NULL
                ELSE o.created_at + interval '2 seconds' END
    FROM orders_order o
    ON CONFLICT DO NOTHING
    """,
    """
    INSERT INTO erp_sync_outboxsample (at, waiting, oldest_created_at)
    SELECT s, (extract(epoch FROM s)::bigint / 300) % 40,
           s - ((extract(epoch FROM s)::bigint / 300) % 17) * interval '1 minute'
    FROM generate_series(date_trunc('hour', now()) - interval '8 days', now(), interval '5 minutes') AS s
    ON CONFLICT DO NOTHING
    """,
]


def seed_fleet_history() -> None:
    from django.db import connection, transaction

    from fleet.models import Job

    if Job.objects.filter(ticket__startswith="BTK-").exists():
        return
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in FLEET_HISTORY:
            cursor.execute(sql)
            verb, table = re.search(r"(INSERT INTO|UPDATE) (\w+)", sql).groups()
            print(f"  {cursor.rowcount:>9,} rows {'into' if verb == 'INSERT INTO' else 'updated in'} {table}")
    print(f"fleet history seeded in {time.perf_counter() - started:.0f} s")
    settle_database(DATABASE_URL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=int(os.environ.get("BENCH_PER_KIND", 20)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    prepare_database(DATABASE_URL)
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.db.models import Count
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from catalog.models import Plant
    from console.selectors import dashboard, dashboard_default_day
    from fleet.models import CallRequest, Job
    from oms import roles
    from oms.models import OutboxMessage
    from orders.models import Order

    if not Order.objects.exists():
        manage("seed_demo", "--size", os.environ.get("BENCH_SEED_SIZE", "small"), database_url=DATABASE_URL)
    seed_fleet_history()
    rng = random.Random(args.seed)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(
        f"orders: {Order.objects.count():,}  loads: {Job.objects.count():,}  "
        f"call requests: {CallRequest.objects.count():,}  outbox: {OutboxMessage.objects.count():,}"
    )
    user, _ = User.objects.get_or_create(username="bench-dashboard", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name=roles.ADMIN))
    client = Client()
    client.force_login(user)
    url = reverse("admin:console-dashboard")
    plants = list(Plant.objects.filter(active=True).order_by("code"))
    today = dashboard_default_day(None)
    busiest = (
        Order.objects.values("requested_date").annotate(n=Count("id")).order_by("-n")[0]["requested_date"]
    )
    requests = {
        "page: today, every plant": [{}] * args.per_kind,
        "page: the stress day, every plant": [{"date": busiest.isoformat()}] * args.per_kind,
        "page: today, one plant": [{"plant": rng.choice(plants).pk} for _ in range(args.per_kind)],
        "page: a past day, every plant": [
            {"date": (today - timedelta(days=rng.randint(1, 60))).isoformat()} for _ in range(args.per_kind)
        ],
    }
    timings: dict[str, list[float]] = {}

    def measure(kind: str, call) -> None:
        call()  # warm-up
        for _ in range(args.rounds):
            start = time.perf_counter()
            call()
            timings.setdefault(kind, []).append((time.perf_counter() - start) * 1000)

    for kind, params in requests.items():
        for query in params:

            def get(query=query):
                assert client.get(url, query).status_code == 200

            measure(kind, get)
    for _ in range(args.per_kind):
        measure("selector only: today, every plant", lambda: dashboard(day=today))
    with CaptureQueriesContext(connection) as page_queries:
        client.get(url)
    with CaptureQueriesContext(connection) as selector_queries:
        figures = dashboard(day=today)
    print(
        f"today ({today}): {figures.loads_total:,} loads, {figures.on_time.delivered:,} delivered, "
        f"{figures.callbacks.requested:,} call-backs, {len(figures.backlog)} backlog points"
    )
    print(f"the stress day ({busiest}): {dashboard(day=busiest).loads_total:,} loads")
    print(f"queries: page {len(page_queries)}, selector {len(selector_queries)}")
    print()
    print("| request | n | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for kind, ts in timings.items():
        print(
            f"| {kind} | {len(ts)} | {statistics.median(ts):.1f} | {pct(ts, 95):.1f} | {pct(ts, 99):.1f} | "
            f"{max(ts):.1f} |"
        )


if __name__ == "__main__":
    main()
