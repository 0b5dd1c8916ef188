"""Fixtures of the ERP sync tests: a fake ERP on loopback, ERP systems, and real Celery worker / beat
processes against the test database and the test Redis (the `fake_erp` and the `world` come from tests/conftest.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from catalog.models import StockLevel
from erp_sync.signing import sign
from tests.erp_sync.fake_erp import HOST, SECRET

BASE_DIR = Path(settings.BASE_DIR)
CELERY = str(BASE_DIR / ".venv" / "bin" / "celery")


def wait_until(predicate, *, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture
def erp_system(db, fake_erp):
    """The default ERP, speaking http_json to the fake ERP."""
    return fake_erp.connect(code="ERP1", name="ERP one", is_default=True, poll_seconds=1)


@pytest.fixture
def plenty_of_gravel(world):
    """For hundreds of orders: far more gravel at the world's plant than its usual 100 t."""
    StockLevel.objects.filter(plant=world.plant, product=world.gravel).update(on_hand=Decimal("1000000"))


def envelope(mid: str, type_: str, entity: tuple[str, str], version: int, data: dict) -> dict:
    return {
        "id": mid,
        "type": type_,
        "occurred_at": "2026-11-22T08:00:00Z",
        "entity": {"type": entity[0], "key": entity[1]},
        "version": version,
        "data": data,
    }


def signed_post(client, code: str, body: bytes, *, secret: str = SECRET):
    return client.post(
        f"/api/v1/erp/{code}/messages/",
        data=body,
        content_type="application/json",
        headers={"X-OMS-Signature": sign(secret, body)},
    )


def body_of(messages) -> bytes:
    return json.dumps({"messages": messages}).encode()


def test_database_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


class CeleryProcess:
    """A real `celery worker` or `celery beat` subprocess in its own process group."""

    def __init__(self, kind: str, log_dir: Path, env: dict[str, str]):
        self.kind = kind
        self.log_dir = log_dir
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.kind}-{self.starts}.log"

    def start(self, wait: bool = True) -> CeleryProcess:
        self.starts += 1
        if self.kind.startswith("worker"):
            args = [
                CELERY,
                "-A",
                "oms",
                "worker",
                "--pool",
                "prefork",
                "-c",
                "1",
                "-Q",
                "erp,files,default",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "INFO",
                "-n",
                f"{self.kind}-{uuid.uuid4().hex[:6]}@%h",
            ]
            ready = "ready."
        else:
            args = [
                CELERY,
                "-A",
                "oms",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.log_dir / f"{self.kind}-schedule-{self.starts}"),
            ]
            ready = "beat: Starting"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(  # noqa: S603
            args, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        if wait:
            wait_until(lambda: ready in self.log_path.read_text(), timeout=60, message=f"{self.kind} ready")
        return self

    def kill9(self) -> None:
        """kill -9 of the whole process group (main process and pool children)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def celery_env():
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        DB_CONN_MAX_AGE="0",
        OMS_ERP_SWEEP_SECONDS="2",
        OMS_ERP_PULL_SECONDS="1",
        OMS_BEAT_LEASE_SECONDS="6",
        OMS_ERP_READ_TIMEOUT=os.environ.get("OMS_ERP_READ_TIMEOUT", "10"),
        OMS_ERP_ALLOWED_PRIVATE_HOSTS=HOST,
    )
    return env


@pytest.fixture
def celery_procs(tmp_path, celery_env):
    """`celery_procs("worker")` / `celery_procs("beat")` → started processes, all stopped afterwards."""
    broker().flushdb()  # stale nudges of earlier tests would only add noise
    started: list[CeleryProcess] = []

    def make(kind: str, *, wait: bool = True, **env) -> CeleryProcess:
        proc = CeleryProcess(f"{kind}{len(started)}", tmp_path, {**celery_env, **env})
        started.append(proc)
        return proc.start(wait=wait)

    yield make
    for proc in started:
        proc.stop()
