"""Benchmark: a realistic order mix through `POST /api/v1/orders/` against the trivial authenticated
`GET /api/v1/products/{sku}/`, with wrk, on gunicorn started as in production.

Method: a fresh PostgreSQL database per tree, migrated and seeded through the tree's own commands in
subprocesses (`migrate`, `seed_demo --size small`, `oms_sales_point`, `oms_token`, stock raised with
`shell -c`), then, through the API, CUSTOMERS customers each with one or two saved sites (an order
with an inline site); the site ids come from `shell -c`. The benchmark process imports nothing of the
project, so it can drive another checkout laid out differently (`--baseline-tree`). The server is
gunicorn with `--workers 4` sync workers, `DJANGO_ENV=production` (DEBUG off), Redis for the cache,
the rate counter and the Celery broker (nudges are queued; no worker runs), throttling out of reach.

wrk (`bench/orders_mix.lua`, every request a unique Idempotency-Key, bodies varied) runs, in each
round, the trivial endpoint and then each order scenario for SECONDS with CONNECTIONS connections:
`mix` (1/3/10 lines 50/35/15 %, products over the catalogue, saved site / inline site / pickup,
existing customer by id / new inline customer), `hot1` and `hot3` (every order takes the same stocked
product at the same plant: one line, or three with the hot product first). Reported per run:
requests/s, p50/p99, non-2xx, and the CPU per request of the gunicorn processes and of the PostgreSQL
backends serving them (from /proc: less sensitive to other load on the machine than throughput);
per round the ratio scenario / trivial. Any non-2xx answer or socket error fails the run.

With `--baseline-tree` the two trees are served alternately, one server at a time, each from its own
virtualenv and database on its own port: baseline (trivial, scenarios…), tree (trivial, scenarios…),
repeated ROUNDS times; each turn restarts the tree's server, vacuums its database and warms up first.
The change of the ratio tree / baseline is reported per round and overall.

    .venv/bin/python bench/orders_mix.py [--baseline-tree PATH] [--tree PATH]
    .venv/bin/python bench/run.py orders_mix

Environment knobs (or the options): DATABASE_URL (the tree's database; the baseline's gets
`_baseline` appended), REDIS_URL, BENCH_ROUNDS (2), BENCH_SECONDS (10), BENCH_CLIENTS (16
connections), BENCH_WORKERS (4), BENCH_SCENARIOS (mix,hot1,hot3), BENCH_PORT (8767; the baseline
uses the next port). Needs wrk.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlparse

from common import (
    ROOT,
    Tree,
    create_database,
    manage,
    settle_database,
    start_gunicorn,
    stop_gunicorn,
)

LUA = Path(__file__).resolve().with_suffix(".lua")
SALES_POINT = "BENCH-MIX"
ON_HAND = "1000000000"

# Stock at the kiosk's plant for every active stocked product, whichever app holds the models.
STOCK_SCRIPT = """
import json
from decimal import Decimal
from django.apps import apps

def model(name):
    for app in ("orders", "catalog"):
        try:
            return apps.get_model(app, name)
        except LookupError:
            pass
    raise LookupError(name)

StockLevel = model("StockLevel")
Plant = StockLevel._meta.get_field("plant").related_model
Product = StockLevel._meta.get_field("product").related_model
plant = Plant.objects.get(code=PLANT)
rows = 0
for product in Product.objects.filter(stocked=True, active=True):
    StockLevel.objects.update_or_create(plant=plant, product=product, defaults={"on_hand": Decimal(ON_HAND)})
    rows += 1
print(json.dumps({"stock_rows": rows}))
"""

SITES_SCRIPT = """
import json
from customers.models import Site
out = {}
rows = Site.objects.filter(customer__public_id__in=IDS, active=True).order_by("pk")
for customer, site in rows.values_list("customer__public_id", "public_id"):
    out.setdefault(str(customer), []).append(str(site))
print(json.dumps(out))
"""


@dataclass
class Side:
    """One tree under test: its checkout, database, port, and the world seeded into it."""

    label: str
    tree: Tree
    database_url: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    world: dict = field(default_factory=dict)
    world_file: Path | None = None
    server: subprocess.Popen | None = None


def server_env(side: Side, args) -> dict[str, str]:
    """Production settings as far as a loopback benchmark allows (no TLS in front: no SSL redirect)."""
    return {
        "DATABASE_URL": side.database_url,
        "DJANGO_ENV": "production",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "OMS_SITE_URL": "https://oms.bench.example",
        "OMS_TRUSTED_PROXY_COUNT": "0",
        "EMAIL_URL": "smtp://127.0.0.1:25",  # required by production; the benchmark sends no mail
        "OMS_CREDENTIAL_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "REDIS_URL": args.redis_url,
        "CELERY_BROKER_URL": args.redis_url,
        "OMS_ORDER_RATE_PER_MINUTE": "100000000",
        "OMS_CUSTOMER_API_RATE_PER_MINUTE": "100000000",
        "OMS_VAR_DIR": str(side.tree.path / "var" / "bench-orders-mix"),
        "LOG_LEVEL": "WARNING",
    }


@contextmanager
def serving(side: Side, args) -> Iterator[None]:
    """`side`'s tree served by gunicorn on its port while the block runs."""
    side.server = start_gunicorn(port=side.port, workers=args.workers, env=side.env, tree=side.tree)
    try:
        yield
    finally:
        stop_gunicorn(side.server)
        side.server = None


def api(port: int, method: str, path: str, key: str, body: dict | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Token {key}", "Host": "127.0.0.1"}
    if body is not None:
        headers |= {"Content-Type": "application/json", "Idempotency-Key": secrets.token_hex(16)}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    payload = response.read()
    return response.status, json.loads(payload) if payload else {}


def expect(status: int, payload: dict, wanted: int, what: str) -> dict:
    if status != wanted:
        raise SystemExit(f"{what}: HTTP {status} (expected {wanted}): {json.dumps(payload)[:500]}")
    return payload


def last_json_line(output: str) -> dict:
    return json.loads(next(line for line in reversed(output.splitlines()) if line.startswith("{")))


def seed(side: Side, args) -> None:
    """A fresh database for `side`, seeded through its tree's commands and its API."""
    run = {"database_url": side.database_url, "tree": side.tree, "env": side.env}
    create_database(side.database_url, fresh=True)
    manage("migrate", "--no-input", "-v", "0", **run)
    manage("seed_demo", "--size", "small", **run)
    manage("oms_sales_point", SALES_POINT, "--channel", "kiosk", "--plant", args.plant, **run)
    key = manage("oms_token", "--sales-point", SALES_POINT, "--name", "orders-mix", capture=True, **run)
    key = key.strip().splitlines()[-1]
    script = STOCK_SCRIPT.replace("PLANT", repr(args.plant)).replace("ON_HAND", repr(ON_HAND))
    stock = last_json_line(manage("shell", "-c", script, capture=True, **run))

    with serving(side, args):
        products, path = [], "/api/v1/products/?page_size=200"
        while path:
            page = expect(*api(side.port, "GET", path, key), 200, "product list")
            products += page["results"]
            path = page["next"] and urlparse(page["next"])._replace(scheme="", netloc="").geturl()
        skus = [p["sku"] for p in products]
        stocked = [p["sku"] for p in products if p["stocked"]]
        if not stocked:
            raise SystemExit("no stocked product for the hot-product runs")
        nonce = secrets.token_hex(4)
        customer_ids = []
        for i in range(args.customers):
            created = expect(
                *api(
                    side.port,
                    "POST",
                    "/api/v1/customers/",
                    key,
                    {
                        "name": f"Mix Customer {i}",
                        "email": f"saved-{nonce}-{i}@example.com",
                        "kind": "company" if i % 3 == 0 else "person",
                    },
                ),
                201,
                "customer",
            )
            customer_ids.append(created["id"])
            for n in range(1 + (i % 2)):  # one or two saved sites
                order = {
                    "customer": {"id": created["id"]},
                    "fulfilment": "delivery",
                    "site": {
                        "name": f"Site {n + 1}",
                        "address": f"{10 + i} Tsarigradsko shose",
                        "city": "Sofia",
                        "postcode": "1784",
                        "country": "BG",
                        "lat": 42.65 + i * 0.0005,
                        "lon": 23.38 + n * 0.01,
                    },
                    "lines": [{"sku": skus[i % len(skus)], "quantity": "1.000"}],
                }
                expect(*api(side.port, "POST", "/api/v1/orders/", key, order), 201, "seed order")
    sites = last_json_line(
        manage("shell", "-c", SITES_SCRIPT.replace("IDS", repr(customer_ids)), capture=True, **run)
    )
    today = date.today()
    side.world = {
        "key": key,
        "skus": skus,
        "hot": stocked[0],
        "customers": [{"id": c, "sites": sites[c]} for c in customer_ids],
        "dates": [(today + timedelta(days=d)).isoformat() for d in range(1, 8)],
    }
    print(
        f"[{side.label}] {side.tree.revision()}: {len(skus)} products ({len(stocked)} stocked, "
        f"{stock['stock_rows']} stock rows raised), {len(customer_ids)} customers with "
        f"{sum(len(s) for s in sites.values())} saved sites; hot product {stocked[0]}",
        flush=True,
    )


def lua_string(value: str) -> str:
    if not value.isascii() or any(c in value for c in '"\\\n'):
        raise ValueError(f"unexpected characters in {value!r}")
    return f'"{value}"'


def write_world(side: Side, directory: Path) -> None:
    world = side.world
    customers = ",\n".join(
        f"  {{ id = {lua_string(c['id'])}, sites = {{ {', '.join(lua_string(s) for s in c['sites'])} }} }}"
        for c in world["customers"]
    )
    text = (
        f"return {{\n key = {lua_string(world['key'])},\n hot = {lua_string(world['hot'])},\n"
        f" skus = {{ {', '.join(lua_string(s) for s in world['skus'])} }},\n"
        f" dates = {{ {', '.join(lua_string(d) for d in world['dates'])} }},\n"
        f" customers = {{\n{customers}\n }},\n}}\n"
    )
    side.world_file = directory / f"{side.label}.lua"
    side.world_file.write_text(text)


TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far (Linux /proc), None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def server_processes(side: Side) -> list[int]:
    """The gunicorn master and its workers."""
    pid = side.server.pid
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


def database_backends(side: Side) -> list[int]:
    import psycopg

    with psycopg.connect(side.database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def cpu_snapshot(side: Side) -> dict[str, dict[int, float]]:
    """CPU seconds of the web processes and of the PostgreSQL backends serving them (same host)."""
    return {
        kind: {pid: cpu for pid in pids if (cpu := cpu_seconds(pid)) is not None}
        for kind, pids in (("web", server_processes(side)), ("db", database_backends(side)))
    }


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds between two snapshots; a process that appeared in between counts from its start."""
    return {kind: sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items()) for kind in after}


def wrk(side: Side, mode: str, seconds: float, args) -> dict:
    """One wrk run; its RESULT line with requests/s, latencies in ms and the CPU spent per request by
    the web workers and by PostgreSQL added."""
    command = [args.wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds:g}s", "--latency"]
    command += ["--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{side.port}"]
    command += ["--", mode, str(side.world_file), secrets.token_hex(6)]
    before = cpu_snapshot(side)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    spent = cpu_spent(before, cpu_snapshot(side))
    lines = done.stdout.splitlines()
    found = [line.removeprefix("RESULT ") for line in lines if line.startswith("RESULT ")]
    if done.returncode or not found:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
    result = json.loads(found[0])
    result["samples"] = [line.removeprefix("SAMPLE ") for line in lines if line.startswith("SAMPLE ")]
    result["rate"] = result["requests"] / (result["duration_us"] / 1e6)
    result["non2xx"] = sum(n for status, n in result["statuses"].items() if not 200 <= int(status) <= 299)
    result["socket_errors"] = sum(v for k, v in result["errors"].items() if k != "status")
    for name in ("p50", "p90", "p99", "max"):
        result[f"{name}_ms"] = result[f"{name}_us"] / 1000
    for kind, cpu in spent.items():
        result[f"{kind}_cpu_s"] = cpu
        result[f"{kind}_cpu_ms"] = 1000 * cpu / max(result["requests"], 1)
    return result


def turn(side: Side, rnd: int, scenarios: list[str], args, records: list[dict], *, warm: bool) -> None:
    """One round of one tree: trivial, then every order scenario, each recorded."""
    if warm:
        wrk(side, "trivial", 1, args)
        wrk(side, "mix", args.warmup, args)
    for mode in ["trivial", *scenarios]:
        result = wrk(side, mode, args.seconds, args)
        records.append({"side": side.label, "round": rnd, "mode": mode, **result})
        print(
            f"[{side.label}] round {rnd} {mode:<7} {result['rate']:8.1f} req/s  p50 {result['p50_ms']:6.1f} ms  "
            f"p99 {result['p99_ms']:6.1f} ms  non-2xx {result['non2xx']}  socket errors {result['socket_errors']}  "
            f"CPU/request web {result['web_cpu_ms']:.2f} ms db {result['db_cpu_ms']:.2f} ms",
            flush=True,
        )
        for sample in result["samples"]:
            print(f"    {sample}", flush=True)


def chosen(records: list[dict], side: str, mode: str, rnd: int | None = None) -> list[dict]:
    return [r for r in records if r["side"] == side and r["mode"] == mode and rnd in (None, r["round"])]


def rate(records: list[dict], side: str, mode: str, rnd: int | None = None) -> float:
    runs = chosen(records, side, mode, rnd)
    return sum(r["requests"] for r in runs) / (sum(r["duration_us"] for r in runs) / 1e6)


def cpu_per_request(records: list[dict], side: str, mode: str, rnd: int | None = None) -> float:
    """Web + database CPU milliseconds per request."""
    runs = chosen(records, side, mode, rnd)
    return 1000 * sum(r["web_cpu_s"] + r["db_cpu_s"] for r in runs) / sum(r["requests"] for r in runs)


def percent(values: list[float], signed: bool = False) -> str:
    return " / ".join(f"{v:+.1%}" if signed else f"{v:.1%}" for v in values)


def report(sides: list[Side], scenarios: list[str], records: list[dict], args) -> None:
    rounds = sorted({r["round"] for r in records})
    print()
    print(
        f"wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s --latency, gunicorn {args.workers} sync "
        f"workers (DJANGO_ENV=production), PostgreSQL, Redis; {len(rounds)} rounds"
    )
    for side in sides:
        print(f"- {side.label}: {side.tree.revision()}")
    print()
    print(
        "| tree | round | run | req/s | p50 ms | p99 ms | non-2xx | CPU ms/req web + db | ratio to trivial |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in records:
        trivial = rate(records, r["side"], "trivial", r["round"])
        ratio = "" if r["mode"] == "trivial" else f"{r['rate'] / trivial:.1%}"
        print(
            f"| {r['side']} | {r['round']} | {r['mode']} | {r['rate']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['non2xx']} | {r['web_cpu_ms']:.2f} + {r['db_cpu_ms']:.2f} | {ratio} |"
        )
    print()
    if len(sides) == 1:
        label = sides[0].label
        print("| run | req/s (all rounds) | CPU ms/req | ratio per round | ratio overall |")
        print("|---|---:|---:|---|---:|")
        for mode in ["trivial", *scenarios]:
            per_round = [rate(records, label, mode, n) / rate(records, label, "trivial", n) for n in rounds]
            overall = rate(records, label, mode) / rate(records, label, "trivial")
            print(
                f"| {mode} | {rate(records, label, mode):.1f} | {cpu_per_request(records, label, mode):.2f} | "
                f"{'' if mode == 'trivial' else percent(per_round)} | "
                f"{'' if mode == 'trivial' else f'**{overall:.1%}**'} |"
            )
        return
    base, tree = sides[0].label, sides[1].label
    print(
        f"| run | {base}: ratio per round | {tree}: ratio per round | change of the ratio per round | "
        f"change overall | CPU ms/req {base} → {tree} |"
    )
    print("|---|---|---|---|---:|---|")
    for mode in ["trivial", *scenarios]:
        cpu = (
            f"{cpu_per_request(records, base, mode):.2f} → {cpu_per_request(records, tree, mode):.2f} "
            f"({cpu_per_request(records, tree, mode) / cpu_per_request(records, base, mode) - 1:+.1%})"
        )
        if mode == "trivial":  # no ratio: the throughput itself
            changes = [rate(records, tree, mode, n) / rate(records, base, mode, n) - 1 for n in rounds]
            print(
                f"| trivial req/s | {' / '.join(f'{rate(records, base, mode, n):.0f}' for n in rounds)} | "
                f"{' / '.join(f'{rate(records, tree, mode, n):.0f}' for n in rounds)} | "
                f"{percent(changes, True)} | {rate(records, tree, mode) / rate(records, base, mode) - 1:+.1%} | "
                f"{cpu} |"
            )
            continue
        ratios = {
            side: [rate(records, side, mode, n) / rate(records, side, "trivial", n) for n in rounds]
            for side in (base, tree)
        }
        overall = {side: rate(records, side, mode) / rate(records, side, "trivial") for side in (base, tree)}
        changes = [t / b - 1 for b, t in zip(ratios[base], ratios[tree], strict=True)]
        print(
            f"| {mode} | {percent(ratios[base])} | {percent(ratios[tree])} | {percent(changes, True)} "
            f"(median {statistics.median(changes):+.1%}) | **{overall[tree] / overall[base] - 1:+.1%}** "
            f"({overall[base]:.1%} → {overall[tree]:.1%}) | {cpu} |"
        )


def main() -> int:
    database_url = os.environ.get("DATABASE_URL", "postgres://root@127.0.0.1:5432/oms_bench_orders_mix")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout under test (default: this one)")
    parser.add_argument("--baseline-tree", type=Path, help="checkout to compare with, served alternately")
    parser.add_argument("--label", default=None, help="name of --tree in the tables")
    parser.add_argument("--baseline-label", default="baseline")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--connections", type=int, default=int(os.environ.get("BENCH_CLIENTS", 16)))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("BENCH_WORKERS", 4)))
    parser.add_argument("--scenarios", default=os.environ.get("BENCH_SCENARIOS", "mix,hot1,hot3"))
    parser.add_argument("--customers", type=int, default=100, help="saved customers (with 1-2 sites each)")
    parser.add_argument("--plant", default="SOF1", help="plant of the benchmark's kiosk (seed_demo's codes)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8767)))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/13"))
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args()
    if not shutil.which(args.wrk):
        raise SystemExit("wrk is needed (apt-get install wrk)")
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - {"mix", "hot1", "hot3"}
    if unknown:
        raise SystemExit(f"unknown scenarios {sorted(unknown)}")

    tree = Tree(args.tree.resolve())
    sides = [Side(args.label or ("tree" if args.baseline_tree else "orders"), tree, database_url, args.port)]
    if args.baseline_tree:
        baseline = Tree(args.baseline_tree.resolve())
        url = urlparse(database_url)
        sides.insert(
            0,
            Side(
                args.baseline_label,
                baseline,
                url._replace(path=f"{url.path}_baseline").geturl(),
                args.port + 1,
            ),
        )
    for side in sides:
        side.env = server_env(side, args)
        seed(side, args)

    records: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="orders-mix-") as directory:
        for side in sides:
            write_world(side, Path(directory))
        if len(sides) == 1:
            side = sides[0]
            settle_database(side.database_url)
            with serving(side, args):
                for rnd in range(1, args.rounds + 1):
                    turn(side, rnd, scenarios, args, records, warm=rnd == 1)
        else:
            for rnd in range(1, args.rounds + 1):
                for side in sides:  # one server at a time: baseline, then tree
                    settle_database(side.database_url)
                    with serving(side, args):
                        turn(side, rnd, scenarios, args, records, warm=True)
                    time.sleep(1)
    report(sides, scenarios, records, args)
    failed = [r for r in records if r["non2xx"] or r["socket_errors"]]
    if failed:
        print(f"FAILED: {len(failed)} runs with non-2xx answers or socket errors", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
