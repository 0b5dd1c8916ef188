"""The OMS as it runs in production, against a database of a test's choosing: manage.py, the seeded
world (tests/ops/world.py), gunicorn with several sync workers and a Celery worker and beat, and
kiosks that place orders over HTTP the way the API asks clients to (docs/rest-api.md, Idempotency):
one `Idempotency-Key` per order, the same key again after a transport error, a 5xx or a 409 "still in
progress".

The processes are the ones of bench/common.py (gunicorn) and tests/erp_sync/conftest.py (Celery).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.conf import settings

from bench.common import start_gunicorn, stop_gunicorn
from tests.erp_sync.conftest import BASE_DIR, CeleryProcess, broker
from tests.erp_sync.fake_erp import HOST
from tests.pgcluster import free_port

ORDER_PATH = "/api/v1/orders/"
logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request would drown the figures


class OmsStack:
    """The OMS processes of one installation: its database URL, its own var/ (media, metrics)."""

    def __init__(self, tmp: Path, database_url: str, **env: str):
        self.tmp = tmp
        self.var = tmp / "var"
        self.database_url = database_url
        self.env = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DJANGO_DEBUG": "0",
            "DATABASE_URL": database_url,
            "OMS_VAR_DIR": str(self.var),
            "PROMETHEUS_MULTIPROC_DIR": str(self.var / "prometheus"),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "REDIS_URL": settings.REDIS_URL,
            # Many orders from one kiosk in a minute: the per-device limit is not under test.
            "OMS_ORDER_RATE_PER_MINUTE": "1000000",
            "OMS_ERP_ALLOWED_PRIVATE_HOSTS": HOST,
            "OMS_ERP_SWEEP_SECONDS": "2",
            "OMS_ERP_PULL_SECONDS": "1",
            "OMS_BEAT_LEASE_SECONDS": "6",
            **env,
        }
        self.web: subprocess.Popen | None = None
        self.port = 0
        self.celery: list[CeleryProcess] = []

    @property
    def media(self) -> Path:
        return self.var / "media"

    def python(self, *args: str) -> str:
        """Run the project's Python with this installation's environment; its standard output."""
        done = subprocess.run(  # noqa: S603
            [sys.executable, *args], cwd=BASE_DIR, env=self.env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def manage(self, *args: str) -> str:
        return self.python("manage.py", *args)

    def world(self, *args: str) -> dict:
        return json.loads(self.python("-m", "tests.ops.world", *args).strip().splitlines()[-1])

    def start_web(self, workers: int = 4) -> str:
        """gunicorn on a free port; started again, on the same port (the installation's address)."""
        self.port = self.port or free_port()
        self.web = start_gunicorn(port=self.port, workers=workers, env=self.env)
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_celery(self, *, beat: bool = True) -> None:
        broker().flushdb()  # nudges of earlier tests would only add noise
        kinds = ["worker", "beat"] if beat else ["worker"]
        for kind in kinds:
            proc = CeleryProcess(f"{kind}{len(self.celery)}", self.tmp, self.env)
            self.celery.append(proc)  # stopped afterwards even when it never got ready
            proc.start()

    def stop(self) -> None:
        if self.web is not None:
            stop_gunicorn(self.web)
            self.web = None
        for proc in self.celery:
            proc.stop()
        self.celery = []

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.log_path.read_text()[-3000:]}" for p in self.celery)


def order_body(world: dict, *, sku: str = "GRAVEL", quantity: str = "1.000") -> dict:
    return {
        "customer": {"number": world["customer"]},
        "fulfilment": "delivery",
        "site": {"id": world["site"]},
        "lines": [{"sku": sku, "quantity": quantity}],
        "window": {"from": "08:00", "to": "10:00"},
    }


@dataclass
class Attempt:
    key: str
    status: int | None  # None: the request failed at the transport
    at: float  # time.monotonic() when the answer (or the failure) came
    body: dict | None = None


@dataclass
class Kiosks:
    """Kiosks placing orders through the API, each order under its own key until it gets an answer
    other than a transport error, a 5xx or a 409 in progress."""

    base_url: str
    key: str
    retry_for: float = 120.0
    attempts: list[Attempt] = field(default_factory=list)
    results: dict[str, Attempt] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Token {self.key}"}, timeout=30.0
        )

    def place(self, client: httpx.Client, body: dict, key: str | None = None) -> Attempt:
        key = key or uuid.uuid4().hex
        deadline = time.monotonic() + self.retry_for
        while True:
            try:
                response = client.post(ORDER_PATH, json=body, headers={"Idempotency-Key": key})
                attempt = Attempt(key, response.status_code, time.monotonic(), _json(response))
            except httpx.TransportError:
                attempt = Attempt(key, None, time.monotonic())
            with self.lock:
                self.attempts.append(attempt)
            retry = (
                attempt.status is None
                or attempt.status >= 500
                or attempt.status == 409
                and ((attempt.body or {}).get("code") == "idempotency_in_progress")
            )
            if not retry or time.monotonic() > deadline:
                with self.lock:
                    self.results[key] = attempt
                return attempt
            time.sleep(0.2)

    def run(self, bodies: list[dict], *, threads: int, pace: float = 0.0) -> None:
        """Place every body once (one key each) on `threads` kiosks working through the list."""
        todo = list(enumerate(bodies))
        todo_lock = threading.Lock()

        def kiosk() -> None:
            with self.client() as client:
                while True:
                    with todo_lock:
                        if not todo:
                            return
                        _, body = todo.pop(0)
                    self.place(client, body)
                    if pace:
                        time.sleep(pace)

        workers = [threading.Thread(target=kiosk) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=600)
        assert not any(worker.is_alive() for worker in workers)

    def statuses(self) -> dict[int | None, int]:
        counts: dict[int | None, int] = {}
        for attempt in self.results.values():
            counts[attempt.status] = counts.get(attempt.status, 0) + 1
        return counts


def _json(response: httpx.Response) -> dict | None:
    try:
        return response.json()
    except ValueError:
        return None
