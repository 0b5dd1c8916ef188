"""Benchmark: the portal's "My orders" list and order detail against 1,000,000 orders.

Method: a dedicated PostgreSQL database is migrated and seeded once with ORDERS orders (one SQL
INSERT … SELECT generate_series) spread over CUSTOMERS customers; the first customer, a large
company, owns BIG_SHARE of them, so its list is the worst case. Rendering goes through the full
Django stack in-process (middleware, session, CSP, templates; DEBUG off) with the test client
signed in as that customer's portal user. Each scenario is requested REQUESTS times after a warm-up;
reported: p50 / p95 / max milliseconds and the number of SQL queries per request.

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_portal_bench .venv/bin/python bench/portal_list.py

Environment knobs: BENCH_ORDERS (default 1000000), BENCH_CUSTOMERS (default 1000),
BENCH_BIG_SHARE (default 0.2), BENCH_REQUESTS (default 200).
"""

from __future__ import annotations

import os
import statistics
import time

from common import configure, prepare_database

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_portal_bench", "bench-portal")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

ORDERS = int(os.environ.get("BENCH_ORDERS", 1_000_000))
CUSTOMERS = int(os.environ.get("BENCH_CUSTOMERS", 1000))
BIG_SHARE = float(os.environ.get("BENCH_BIG_SHARE", 0.2))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", 200))


def seed():
    from django.contrib.auth import get_user_model
    from django.db import connection

    from catalog.models import Plant
    from customers.models import Customer, PortalAccess, Site
    from orders.models import Order

    big = Customer.objects.filter(number="C-BENCH-000000").first()
    if big is not None and Order.objects.count() >= ORDERS:
        return big.users.get()
    plant, _ = Plant.objects.get_or_create(code="BENCH", defaults={"name": "Bench plant"})
    Customer.objects.bulk_create(
        [Customer(number=f"C-BENCH-{i:06d}", name=f"Bench customer {i}") for i in range(CUSTOMERS)],
        ignore_conflicts=True,
    )
    customers = list(Customer.objects.filter(number__startswith="C-BENCH-").order_by("number"))
    Site.objects.bulk_create(
        [
            Site(customer=c, name=f"Site of {c.number}", address="1 Bench St")
            for c in customers
            if not c.sites.exists()
        ]
    )
    sites = dict(Site.objects.filter(customer__in=customers).values_list("customer_id", "pk"))
    big = customers[0]
    user = get_user_model().objects.filter(username="bench@example.com").first()
    if user is None:
        user = get_user_model().objects.create_user(username="bench@example.com", password="bench-password-1")
        PortalAccess.objects.create(customer=big, user=user)
    table = Order._meta.db_table
    ids = [c.pk for c in customers]
    big_count = int(ORDERS * BIG_SHARE)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")  # noqa: S608 - fixed table name
        cursor.execute(
            f"""
            INSERT INTO {table} (public_id, number, tracking_token, customer_id, site_id, address, channel,
                external_ref, fulfilment, status, status_before, on_call, requested_date, plant_id, currency,
                net_total, tax_total, gross_total, notes, erp_order_number, erp_sync_state, version,
                created_at, updated_at)
            SELECT gen_random_uuid(), 'ORD-B-' || lpad(g::text, 8, '0'), md5(g::text),
                c.id, s.site_id, '{{}}'::jsonb,
                (ARRAY['storefront','web','phone','kiosk','erp'])[1 + g %% 5],
                CASE WHEN g %% 5 IN (0, 4) THEN 'EXT-' || g ELSE '' END, 'delivery',
                (ARRAY['placed','confirmed','scheduled','in_delivery','delivered','completed','cancelled'])[1 + g %% 7],
                '', g %% 11 = 0, DATE '2026-01-01' + (g %% 365), %s, 'EUR', 100, 20, 120, '', '', 'none', 1,
                now() - make_interval(secs => g), now()
            FROM generate_series(1, %s) AS g
            CROSS JOIN LATERAL (
                SELECT CASE WHEN g <= %s THEN %s ELSE (%s::bigint[])[1 + g %% %s] END AS id
            ) AS c
            JOIN (SELECT unnest(%s::bigint[]) AS customer_id, unnest(%s::bigint[]) AS site_id) AS s
                ON s.customer_id = c.id
            """,  # noqa: S608 - fixed table name
            [plant.pk, ORDERS, big_count, big.pk, ids, len(ids), list(sites), list(sites.values())],
        )
        cursor.execute(f"ANALYZE {table}")
    return user


def measure(client, url: str) -> tuple[list[float], int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(REQUESTS):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return timings, len(ctx.captured_queries)


def main() -> None:
    prepare_database(DATABASE_URL)  # kept between runs: seeding 1,000,000 orders takes minutes
    import django

    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from orders.models import Order
    from portal.selectors import encode_cursor

    setup_test_environment()
    started = time.perf_counter()
    user = seed()
    print(f"seeded {Order.objects.count():,} orders in {time.perf_counter() - started:.1f}s")
    big = user.customers.get()
    client = Client()
    client.force_login(user)
    mine = Order.objects.filter(customer=big).order_by("-created_at", "-id")
    print(f"customer under test owns {mine.count():,} orders")
    deep = mine[5000]
    scenarios = {
        "list, first page": "/portal/",
        "list, channel=phone": "/portal/?channel=phone",
        "list, status + date range": "/portal/?status=delivered&date_from=2026-03-01&date_to=2026-06-30",
        "list, page after 5,000 orders": f"/portal/?after={encode_cursor(deep)}",
        "list, search by number": f"/portal/?q={deep.number}",
        "order detail": f"/portal/orders/{mine.first().number}/",
    }
    print("| scenario | p50 ms | p95 ms | max ms | queries |\n|---|---|---|---|---|")
    for name, url in scenarios.items():
        timings, queries = measure(client, url)
        p95 = statistics.quantiles(timings, n=20)[18]
        print(f"| {name} | {statistics.median(timings):.1f} | {p95:.1f} | {max(timings):.1f} | {queries} |")


if __name__ == "__main__":
    main()
