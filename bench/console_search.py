"""Latency of the rep console's unified search (`console.selectors.console_search`).

Run against the large dataset (1,000,000 orders); the script migrates the database first, and seeds
an empty one with `seed_demo --size BENCH_SEED_SIZE` (default small: `make bench` runs it on a
dedicated database of its own):

    DATABASE_URL=postgres://root@127.0.0.1:5432/oms_large .venv/bin/python bench/console_search.py

Queries are sampled from the data itself (read only): exact order numbers, external refs, ERP order
numbers, tickets, phones in E.164 and local format and their last 6, 7 and 8 digits, emails,
customer numbers, partial names, site addresses and partial order numbers. Every query runs once to
warm up, then `--rounds` times; the script prints p50/p95/p99/max per kind and overall, as a
markdown table, and how many queries found something (a phone query: its customer). Environment
knobs: BENCH_PER_KIND (default 30), BENCH_ROUNDS (default 3), BENCH_SEED_SIZE (small or large).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from common import configure, manage, pct, prepare_database

DATABASE_URL = configure("postgres://root@127.0.0.1:5432/oms_large", "bench-console")
os.environ.setdefault("CELERY_BROKER_URL", "memory://")


def sample(qs, field: str, n: int, rng: random.Random) -> list[str]:
    """n values of `field` at random offsets (cheap on big tables: no ORDER BY random())."""
    total_pk = qs.order_by("-pk").values_list("pk", flat=True).first() or 0
    values: list[str] = []
    tries = 0
    while len(values) < n and tries < n * 20:
        tries += 1
        value = (
            qs.filter(pk__gte=rng.randint(1, max(total_pk, 1)))
            .order_by("pk")
            .values_list(field, flat=True)
            .first()
        )
        if value:
            values.append(str(value))
    return values


def local_phone(e164: str) -> str:
    # +359888123456 → "0888 123 456", the way a caller reads it out.
    digits = "0" + e164.removeprefix("+359")
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


def build_queries(n: int, rng: random.Random) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Queries per kind, and the phone (E.164) each phone query must find among the customers."""
    from customers.models import Customer, Site
    from fleet.models import Job
    from orders.models import Order

    orders = Order.objects.all()
    customers = Customer.objects.filter(merged_into__isnull=True)
    numbers = sample(orders, "number", n, rng)
    phones = sample(customers.exclude(phone=""), "phone", n, rng)
    names = sample(customers, "name", n, rng)
    tails = {f"phone (last {d} digits)": [p[-d:] for p in phones] for d in (6, 7, 8)}
    expected = {q: p for p in phones for q in (p, local_phone(p))}
    expected.update({q: p for queries in tails.values() for q, p in zip(queries, phones, strict=True)})
    return {
        "order number (exact)": numbers,
        "order number (last 6 digits)": [num[-6:] for num in numbers],
        "external ref": sample(orders.exclude(external_ref=""), "external_ref", n, rng),
        "ERP order number": sample(orders.exclude(erp_order_number=""), "erp_order_number", n, rng),
        "ticket": sample(Job.objects.all(), "ticket", n, rng),
        "phone (E.164)": phones,
        "phone (local, spaced)": [local_phone(p) for p in phones],
        **tails,
        "email": sample(customers.exclude(email=""), "email", n, rng),
        "customer number": sample(customers, "number", n, rng),
        "customer name (partial)": [name.split()[-1][:6] for name in names],
        "site address (partial)": [a[:10] for a in sample(Site.objects.all(), "address", n, rng)],
    }, expected


def found(results, phone: str | None) -> bool:
    """A phone query finds its customer; any other query finds something."""
    if phone is None:
        return results.total > 0
    return any(str(customer.phone) == phone for customer in results.customers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-kind", type=int, default=int(os.environ.get("BENCH_PER_KIND", 30)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)))
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    prepare_database(DATABASE_URL)
    import django

    django.setup()
    from django.db import connection

    from console.selectors import console_search
    from customers.models import Customer
    from fleet.models import Job
    from orders.models import Order

    if not Order.objects.exists():
        size = os.environ.get("BENCH_SEED_SIZE", "small")
        manage("seed_demo", "--size", size, database_url=DATABASE_URL)
    rng = random.Random(args.seed)
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    print(
        f"orders: {Order.objects.count():,}  customers: {Customer.objects.count():,}  jobs: {Job.objects.count():,}"
    )
    queries, expected = build_queries(args.per_kind, rng)
    timings: dict[str, list[float]] = {}
    hits: dict[str, int] = {}
    for kind, qs in queries.items():
        for q in qs:
            console_search(q=q)  # warm-up
        for _ in range(args.rounds):
            for q in qs:
                start = time.perf_counter()
                results = console_search(q=q)
                timings.setdefault(kind, []).append((time.perf_counter() - start) * 1000)
                hits[kind] = hits.get(kind, 0) + found(results, expected.get(q))
    everything = [t for ts in timings.values() for t in ts]
    print()
    print("| query kind | n | found | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, ts in timings.items():
        print(
            f"| {kind} | {len(ts)} | {hits[kind] * 100 // len(ts)}% | {statistics.median(ts):.1f} | "
            f"{pct(ts, 95):.1f} | {pct(ts, 99):.1f} | {max(ts):.1f} |"
        )
    print(
        f"| **all** | {len(everything)} | | {statistics.median(everything):.1f} | {pct(everything, 95):.1f} | "
        f"{pct(everything, 99):.1f} | {max(everything):.1f} |"
    )


if __name__ == "__main__":
    main()
