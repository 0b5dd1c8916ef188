"""Fixtures of the ERP sync tests: a fake ERP on loopback, ERP systems, and real Celery worker / beat
processes against the test database and a real broker — the test Redis, or RabbitMQ where a test asks
for `celery_broker` = "rabbitmq" (the `fake_erp` and the `world` come from tests/conftest.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

import pytest
import redis
from django.conf import settings
from django.db import connection
from kombu import Connection

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


# --- RabbitMQ ------------------------------------------------------------------------------------
QUEUES = ("erp", "files", "default")


def amqp_url() -> str:
    """The test RabbitMQ: `OMS_TEST_AMQP_URL`, else the local one with a virtual host named after the
    test database, so that parallel runs (each with its own database) never share queues."""
    if url := os.environ.get("OMS_TEST_AMQP_URL"):
        return url
    return f"amqp://guest:guest@127.0.0.1:5672/{quote(connection.settings_dict['NAME'], safe='')}"


def amqp_vhost(url: str) -> str:
    return unquote(urlparse(url).path[1:]) or "/"


def rabbitmqctl(*args: str) -> str:
    """The broker's own CLI (it runs on this host in the test setup): for what AMQP cannot do."""
    found = subprocess.run(  # noqa: S603
        [shutil.which("rabbitmqctl") or "rabbitmqctl", "--quiet", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return found.stdout


_vhosts_ready: set[str] = set()


def ensure_vhost(url: str) -> None:
    """Create the URL's virtual host (once per run) and give its user every permission on it."""
    vhost = amqp_vhost(url)
    if vhost == "/" or vhost in _vhosts_ready:
        return
    if vhost not in rabbitmqctl("list_vhosts", "--no-table-headers").split():
        rabbitmqctl("add_vhost", vhost)
    rabbitmqctl("set_permissions", "-p", vhost, unquote(urlparse(url).username or "guest"), ".*", ".*", ".*")
    _vhosts_ready.add(vhost)


def queue_depths(url: str) -> dict[str, int]:
    with Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        depths = {queue: channel.queue_declare(queue=queue, passive=True).message_count for queue in QUEUES}
        channel.close()
        return depths


def purge_queues(url: str) -> int:
    """Drop every ready message of our three queues (declared durable first, as the workers do);
    deliveries a worker holds unacknowledged are not touched. Returns how many were dropped."""
    dropped = 0
    with Connection(url, connect_timeout=5) as conn:
        channel = conn.channel()
        for queue in QUEUES:
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            dropped += channel.queue_purge(queue) or 0
        channel.close()
    return dropped


@dataclass(frozen=True)
class CeleryBroker:
    """The broker of a test's worker and beat processes, and the faults a test can inflict on it."""

    kind: str  # "redis" | "rabbitmq"
    url: str

    def lose_queued(self) -> None:
        """Lose every queued task: FLUSHDB of our Redis database (the nudge flag with it), or a purge
        of our RabbitMQ queues. The messages a worker is running are not lost on either."""
        if self.kind == "redis":
            redis.Redis.from_url(self.url).flushdb()
        else:
            purge_queues(self.url)

    def drop_connections(self) -> None:
        """Close every client connection of our Redis database or of our RabbitMQ virtual host, as a
        broker restart or a network cut would (the service itself is shared: never restarted)."""
        if self.kind == "redis":
            client = redis.Redis.from_url(self.url)
            db = client.connection_pool.connection_kwargs.get("db", 0)
            me = client.client_id()
            for found in client.client_list():
                if int(found["db"]) == db and found["id"] != str(me):
                    client.client_kill_filter(_id=found["id"])
            return
        rabbitmqctl("close_all_connections", "--vhost", amqp_vhost(self.url), "test: connections dropped")


@pytest.fixture
def rabbitmq():
    """The test RabbitMQ (its virtual host created if needed) with our three queues empty: stale
    messages of earlier runs would only add noise."""
    url = amqp_url()
    ensure_vhost(url)
    purge_queues(url)
    return url


def _use_broker_here(url: str | None) -> None:
    """Send this process's tasks (the nudges after a commit) to `url`, or back to the settings' broker
    with None. It is the write URL that changes: Celery reads `broker_url` from the environment
    first. kombu's pools are closed and emptied, so the next publish opens a fresh connection (a
    pooled one may have been closed by the broker in an earlier test, and a nudge on it be lost)."""
    from kombu import pools

    from oms.celery import app

    pools.reset()
    app.conf.broker_write_url = url
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def celery_broker(request):
    """The broker of the worker and beat processes and of this process's nudges: the test Redis
    unless a test parametrises it (`@pytest.mark.parametrize("celery_broker", ["redis", "rabbitmq"],
    indirect=True)`)."""
    if getattr(request, "param", "redis") == "redis":
        yield CeleryBroker("redis", settings.CELERY_BROKER_URL)
        return
    url = request.getfixturevalue("rabbitmq")
    _use_broker_here(url)
    try:
        yield CeleryBroker("rabbitmq", url)
    finally:
        _use_broker_here(None)


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
def celery_procs(tmp_path, celery_env, celery_broker):
    """`celery_procs("worker")` / `celery_procs("beat")` → started processes on `celery_broker`, all
    stopped afterwards."""
    broker().flushdb()  # stale nudges of earlier tests (and the nudge flag) would only add noise
    celery_broker.lose_queued()
    started: list[CeleryProcess] = []

    def make(kind: str, *, wait: bool = True, **env) -> CeleryProcess:
        env = {"CELERY_BROKER_URL": celery_broker.url, **env}
        proc = CeleryProcess(f"{kind}{len(started)}", tmp_path, {**celery_env, **env})
        started.append(proc)
        return proc.start(wait=wait)

    yield make
    for proc in started:
        proc.stop()
