"""Benchmark: the hand-written SQL helpers of `oms.lib.bulk` against the ORM calls they stand in for,
call by call, in-process.

Method: a dedicated PostgreSQL database, migrated and seeded with `seed_demo --size small` plus a kiosk
key; DEBUG off, server-side binding as configured (statements prepared after 5 runs, as in the web
workers). For each use in the order path — the token lookup (`fetch_where` with two joins), the
customer, site and product lookups of the placement (`fetch_where`), the order and timeline-event
inserts (`insert_one`), the order lines (`insert_all`, 1/3/10 lines) — the hand-written call and its
ORM twin run in alternating blocks of CALLS calls, REPEATS times each; writes run inside a transaction
rolled back at the end of each block. Between the blocks, whole requests are timed through the Django
test client (a trivial GET and an order POST of 3 lines for a saved customer and site), so that each
difference is weighed against the requests at the same moment of a shared, noisy machine. Reported:
median microseconds per call, the ORM's extra cost, and that cost as a share of the two requests;
then per helper, its share of one order POST. Complements `bench/orders_mix.py` (whole requests over
HTTP).

    .venv/bin/python bench/run.py sql_helpers      # BENCH_CALLS (200), BENCH_REPEATS (15)
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from decimal import Decimal

from common import configure, manage, prepare_database

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_bench_sql_helpers", "bench-sql-helpers")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")
CALLS = int(os.environ.get("BENCH_CALLS", 200))
REPEATS = int(os.environ.get("BENCH_REPEATS", 15))
REF_GETS, REF_POSTS = 40, 10
os.environ["OMS_ORDER_RATE_PER_MINUTE"] = "100000000"


def model(app_labels: tuple[str, ...], name: str):
    """The model wherever it lives now (models move between apps)."""
    from django.apps import apps

    for label in app_labels:
        try:
            return apps.get_model(label, name)
        except LookupError:
            continue
    raise LookupError(name)


def cases(key_hash: str) -> dict[str, tuple]:
    """{use: (hand-written call, ORM call)}: each call does one unit of work."""

    from customers.models import Customer, Site
    from oms.lib.bulk import fetch_where

    ApiClient = model(("orders",), "ApiClient")
    Product = model(("orders", "catalog"), "Product")

    site = Site.objects.filter(active=True).select_related("customer").order_by("pk").first()
    customer = site.customer
    products = list(Product.objects.filter(active=True).order_by("sku"))
    skus = {n: {p.sku for p in products[:n]} for n in (1, 3, 10)}
    auth_related = ("sales_point__plant",)
    return {
        "token lookup (fetch_where, joined sales point and plant)": (
            lambda: fetch_where(
                ApiClient, related=auth_related, key_hash=key_hash, revoked_at__isnull=True, limit=1
            ),
            lambda: list(
                ApiClient.objects.select_related(*auth_related).filter(
                    key_hash=key_hash, revoked_at__isnull=True
                )[:1]
            ),
        ),
        "customer by id (fetch_where)": (
            lambda: fetch_where(Customer, public_id=customer.public_id, merged_into__isnull=True, limit=1),
            lambda: list(Customer.objects.filter(public_id=customer.public_id, merged_into__isnull=True)[:1]),
        ),
        "saved site (fetch_where)": (
            lambda: fetch_where(
                Site, public_id=site.public_id, customer_id=customer.pk, active=True, limit=1
            ),
            lambda: list(
                Site.objects.filter(public_id=site.public_id, customer_id=customer.pk, active=True)[:1]
            ),
        ),
        **{
            f"products, {n} SKUs (fetch_where)": (
                lambda n=n: fetch_where(Product, sku=skus[n], active=True),
                lambda n=n: list(Product.objects.filter(sku__in=skus[n], active=True)),
            )
            for n in (1, 3, 10)
        },
    }


def requests() -> tuple[str, dict[str, object]]:
    """A kiosk key and the two whole requests the uses are weighed against, through the Django test
    client (every middleware, no HTTP server): the trivial GET and an order POST of 3 lines for a
    saved customer and site (stock raised so that it never runs out)."""
    from django.test import Client

    from customers.models import Site
    from orders.services.clients import api_client_issue

    Product = model(("orders", "catalog"), "Product")
    SalesPoint = model(("orders", "catalog"), "SalesPoint")
    StockLevel = model(("orders", "catalog"), "StockLevel")
    StockLevel.objects.update(on_hand=Decimal("1000000000"))
    point = SalesPoint.objects.filter(channel="kiosk").order_by("code").first()
    _, key = api_client_issue(sales_point=point, name="sql-helpers")
    site = Site.objects.filter(active=True).select_related("customer").order_by("pk").first()
    skus = list(Product.objects.filter(active=True).order_by("sku").values_list("sku", flat=True)[:3])
    body = json.dumps(
        {
            "customer": {"id": str(site.customer.public_id)},
            "fulfilment": "delivery",
            "site": {"id": str(site.public_id)},
            "lines": [{"sku": sku, "quantity": "8.000"} for sku in skus],
        }
    )
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}

    def get():
        response = client.get(f"/api/v1/products/{skus[0]}/", **auth)
        assert response.status_code == 200, response.content

    def post():
        response = client.post(
            "/api/v1/orders/",
            body,
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **auth,
        )
        assert response.status_code == 201, response.content

    return key, {"GET": get, "POST": post}


def timed(call, count: int) -> float:
    """Microseconds per call over `count` calls."""
    started = time.perf_counter()
    for _ in range(count):
        call()
    return (time.perf_counter() - started) / count * 1e6


def block(call) -> float:
    """Microseconds per call over CALLS calls, in a transaction rolled back at the end."""
    from django.db import transaction

    with transaction.atomic():
        elapsed = timed(call, CALLS)
        transaction.set_rollback(True)
    return elapsed


# How often each use runs in the order POST of `requests()` (token, customer, site, products, order,
# event, lines) and in the trivial GET (the token only).
PER_POST = {
    "token lookup (fetch_where, joined sales point and plant)": 1,
    "customer by id (fetch_where)": 1,
    "saved site (fetch_where)": 1,
    "products, 3 SKUs (fetch_where)": 1,
    "order insert (insert_one)": 1,
    "event insert (insert_one)": 1,
    "order lines, 3 (insert_all)": 1,
}
HELPERS = {
    "fetch_where: token authentication": ["token lookup (fetch_where, joined sales point and plant)"],
    "fetch_where: placement lookups": [
        "customer by id (fetch_where)",
        "saved site (fetch_where)",
        "products, 3 SKUs (fetch_where)",
    ],
    "insert_one: order and event": ["order insert (insert_one)", "event insert (insert_one)"],
    "insert_all: order lines": ["order lines, 3 (insert_all)"],
}


def main() -> None:
    prepare_database(DATABASE_URL, fresh=True)
    manage("seed_demo", "--size", "small", database_url=DATABASE_URL)
    import django

    django.setup()
    from orders.services.clients import hash_key

    key, whole = requests()
    print(
        f"{CALLS} calls per block, {REPEATS} alternating blocks each, with {REF_GETS} trivial GETs and "
        f"{REF_POSTS} order POSTs (3 lines) timed alongside; medians"
    )
    print()
    print(
        "| use | hand-written µs | ORM µs | ORM − hand-written | as % of a trivial GET | as % of an order POST |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    extra: dict[str, tuple[float, float, float]] = {}  # use: (ORM extra, GET, POST) in µs
    for name, (ours, orm) in cases(hash_key(key)).items():
        for call in (ours, orm):  # warm up: statements prepared, caches filled
            block(call)
        timings: dict[str, list[float]] = {"ours": [], "orm": [], "GET": [], "POST": []}
        for i in range(REPEATS):
            order = [("ours", ours), ("orm", orm)]
            for label, call in order if i % 2 == 0 else order[::-1]:
                timings[label].append(block(call))
            timings["GET"].append(timed(whole["GET"], REF_GETS))
            timings["POST"].append(timed(whole["POST"], REF_POSTS))
        a, b, get, post = (statistics.median(timings[k]) for k in ("ours", "orm", "GET", "POST"))
        extra[name] = (b - a, get, post)
        print(
            f"| {name} | {a:.0f} | {b:.0f} | {b - a:+.0f} µs ({b / a - 1:+.0%}) | {(b - a) / get:+.1%} "
            f"| {(b - a) / post:+.1%} |",
            flush=True,
        )
    print()
    print("| hand-written helper (uses per request) | ORM extra per order POST | per trivial GET |")
    print("|---|---:|---:|")
    for helper, uses in HELPERS.items():
        on_post = sum(PER_POST[use] * extra[use][0] / extra[use][2] for use in uses)
        on_get = "" if "token" not in helper else f"{extra[uses[0]][0] / extra[uses[0]][1]:+.1%}"
        print(f"| {helper} | {on_post:+.1%} | {on_get} |")


if __name__ == "__main__":
    main()
