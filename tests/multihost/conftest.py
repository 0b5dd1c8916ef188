"""The multi-host cluster: seven test hosts in network namespaces on one bridge (see hosts.py).

- `data`: a private PostgreSQL 15, Redis and an S3-compatible object store (moto's server);
- `web-a`, `web-b`: gunicorn with the README's production command and the documented production
  environment (docs/operations.md), each with its own `OMS_VAR_DIR`;
- `worker-a`, `worker-b`: Celery workers for all three queues;
- `beat-a`, `beat-b`: Celery beat with the database lease, one active and one standby.

The pytest process stays in the root namespace: it is the client of the web hosts, runs the fake ERP
on the bridge's address, and reads and seeds the data host's database through the ORM (its default
connection is pointed there for the session). The suite runs only when asked for (`-m multihost`,
`make test-multihost`): it needs root and iproute2.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.erp_sync.conftest import wait_until
from tests.erp_sync.fake_erp import FakeErp
from tests.helpers import CREDENTIAL_KEY, documented_production_env
from tests.multihost.hosts import Host, Network, Process
from tests.objectstore import ObjectStore

BASE_DIR = Path(settings.BASE_DIR)
VENV_BIN = BASE_DIR / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PUBLIC_HOST = "oms.example.com"  # DJANGO_ALLOWED_HOSTS of the documented production environment
LEASE_SECONDS = 6
HEALTH_TOKEN = "a-monitor-token-of-our-own"  # tests.helpers.documented_production_env fills it in
S3_BUCKET = "oms-files"
S3_PORT = 5000


# One line per request of the client would drown the figures the tests print.
logging.getLogger("httpx").setLevel(logging.WARNING)


def pytest_collection_modifyitems(config, items):
    """Like `slow` in `make test`, but by default: the suite needs root and builds network namespaces,
    so it runs only when the marker expression names it (`pytest -m multihost`)."""
    if "multihost" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if item.get_closest_marker("multihost") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


class Cluster:
    def __init__(self, network: Network, erp: FakeErp):
        self.network = network
        self.erp = erp
        self.hosts = network.hosts
        self.data = network.hosts["data"]

    def web(self, name: str) -> WebClient:
        return WebClient(self.hosts[name])

    @property
    def store(self) -> ObjectStore:
        return object_store(self.data)

    def process(self, host: str, name: str) -> Process:
        return self.hosts[host].processes[name]

    @property
    def workers(self) -> list[Process]:
        return [self.process("worker-a", "worker"), self.process("worker-b", "worker")]

    @property
    def beats(self) -> list[Process]:
        return [self.process("beat-a", "beat"), self.process("beat-b", "beat")]


class WebClient:
    """HTTP to one web host, as the reverse proxy of the documented setup would send it: the public
    host name and `X-Forwarded-Proto: https` (one trusted proxy)."""

    def __init__(self, host: Host):
        self.host = host
        self.base = f"http://{host.address}:8000"

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs) -> httpx.Response:
        headers = {
            "Host": PUBLIC_HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            **(headers or {}),
        }
        return httpx.request(
            method, self.base + path, headers=headers, timeout=20, follow_redirects=False, **kwargs
        )

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def _base_env() -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "HOME", "TZ")
    return {name: os.environ[name] for name in keep if name in os.environ}


def oms_env(host: Host, network: Network, *, erp_host: str) -> dict[str, str]:
    """The documented production environment of one host, pointed at the data host."""
    data = network.hosts["data"].address
    env = {**_base_env(), **documented_production_env(host.var_dir)}
    env.update(
        DATABASE_URL=f"postgres://oms@{data}:5432/oms",
        CELERY_BROKER_URL=f"redis://{data}:6379/0",
        REDIS_URL=f"redis://{data}:6379/1",
        OMS_MEDIA_ROOT=str(host.var_dir / "var" / "media"),
        # The fake ERP speaks http on the bridge: allowed for it alone.
        OMS_ERP_ALLOW_HTTP="1",
        OMS_ERP_ALLOWED_PRIVATE_HOSTS=erp_host,
        # Test rhythm (as tests/erp_sync/conftest.py celery_env): seconds instead of tens of seconds.
        OMS_ERP_SWEEP_SECONDS="2",
        OMS_ERP_PULL_SECONDS="1",
        OMS_BEAT_LEASE_SECONDS=str(LEASE_SECONDS),
        OMS_ERP_READ_TIMEOUT="5",
        OMS_ERP_BATCH_SIZE="20",  # many batches, so that kills and cuts land mid-drain
        DB_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        # Files every host reads: the bucket on the data host.
        **object_store(network.hosts["data"]).env(S3_BUCKET),
        # Exports of more than one order are written by a worker host (the path under test).
        OMS_EXPORT_SYNC_LIMIT="1",
    )
    return env


def _start_data_host(data: Host, pg_dir: Path) -> None:
    subprocess.run(  # noqa: S603
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "initdb"), "-D", str(pg_dir / "data"),
         "-U", "oms", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    with open(pg_dir / "data" / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {data.address}/24 trust\n")
    data.spawn(
        "postgres",
        ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(pg_dir / "data"),
         "-c", f"listen_addresses={data.address}", "-c", "port=5432",
         "-c", f"unix_socket_directories={pg_dir}", "-c", "fsync=off", "-c", "max_connections=200"],
        _base_env(), cwd=pg_dir,
    ).start(ready="database system is ready to accept connections")  # fmt: skip
    data.spawn(
        "redis",
        ["redis-server", "--bind", data.address, "--port", "6379", "--save", "", "--appendonly", "no",
         "--protected-mode", "no", "--dir", str(data.var_dir)],
        _base_env(), cwd=data.var_dir,
    )  # fmt: skip
    start_redis(data)
    # moto's S3 server with the rules of a private bucket (tests/objectstore.py), on the data host.
    data.spawn(
        "s3",
        [PYTHON, "-m", "tests.objectstore", "--host", data.address, "--port", str(S3_PORT)],
        {**_base_env(), "PYTHONUNBUFFERED": "1"},
        cwd=BASE_DIR,
    ).start()
    store = object_store(data)
    wait_until(lambda: _s3_answers(store), timeout=60, message="the object store answers")
    store.client().create_bucket(Bucket=S3_BUCKET)
    import psycopg

    with psycopg.connect(f"postgresql://oms@{data.address}:5432/postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE oms")


def object_store(data: Host) -> ObjectStore:
    return ObjectStore(data.var_dir / "s3.log", host=data.address, port=S3_PORT)


def _s3_answers(store: ObjectStore) -> bool:
    try:
        httpx.get(store.endpoint_url, timeout=1)
    except httpx.TransportError:
        return False
    return True


def start_redis(data: Host) -> None:
    data.processes["redis"].start(ready="Ready to accept connections")


def _manage(host: Host, env: dict[str, str], *args: str) -> str:
    return host.run(PYTHON, "manage.py", *args, env=env, cwd=BASE_DIR)


def _celery_worker(host: Host, env: dict[str, str]) -> Process:
    return host.spawn(
        "worker",
        [str(VENV_BIN / "celery"), "-A", "oms", "worker", "-Q", "erp,files,default", "--concurrency", "1",
         "-n", f"worker@{host.name}", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        {**env, "LOG_LEVEL": "DEBUG"},  # Celery's lines of idle ticks too: the slot test counts them
        cwd=BASE_DIR,
    )  # fmt: skip


def _celery_beat(host: Host, env: dict[str, str]) -> Process:
    return host.spawn(
        "beat",
        [str(VENV_BIN / "celery"), "-A", "oms", "beat", "--loglevel", "INFO",
         "--schedule", str(host.var_dir / "beat-schedule")],
        {**env, "LOG_LEVEL": "DEBUG"},  # keeps its "Sending due task" lines: the slot test reads them
        cwd=BASE_DIR,
    )  # fmt: skip


def _gunicorn(host: Host, env: dict[str, str]) -> Process:
    # The README's production command, bound to the host's address; two workers per host (2 cores),
    # and the control socket in the host's own directory (by default it is in $HOME, shared here).
    return host.spawn(
        "web",
        [str(VENV_BIN / "gunicorn"), "oms.wsgi:application", "--bind", f"{host.address}:8000",
         "--workers", "2", "--control-socket", str(host.var_dir / "gunicorn.ctl")],
        env, cwd=BASE_DIR,
    )  # fmt: skip


@pytest.fixture(scope="session")
def cluster(tmp_path_factory, django_db_blocker):
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("the multi-host suite needs root and iproute2: run scripts/ensure-multihost.sh")
    started = time.monotonic()
    root = tmp_path_factory.mktemp("multihost")
    pg_dir = Path(tempfile.mkdtemp(prefix="oms-multihost-pg-"))  # readable by the postgres user
    shutil.chown(pg_dir, "postgres", "postgres")
    network = Network(root)
    erp: FakeErp | None = None
    db = settings.DATABASES["default"]
    saved_db = dict(db)
    saved_keys = settings.OMS_CREDENTIAL_KEYS
    from oms.celery import app

    saved_broker = app.conf.broker_url
    try:
        network.create()
        for name in ("data", "web-a", "web-b", "worker-a", "worker-b", "beat-a", "beat-b"):
            network.add_host(name)
        _start_data_host(network.hosts["data"], pg_dir)
        erp = FakeErp(host=network.gateway).start()
        envs = {
            name: oms_env(host, network, erp_host=network.gateway) for name, host in network.hosts.items()
        }
        # The release steps of docs/operations.md: migrate once, collect the static files on each web
        # host (WhiteNoise serves them from its own OMS_VAR_DIR).
        with ThreadPoolExecutor() as pool:
            steps = [pool.submit(_manage, network.hosts["web-a"], envs["web-a"], "migrate", "--no-input")]
            steps += [
                pool.submit(_manage, network.hosts[name], envs[name], "collectstatic", "--no-input")
                for name in ("web-a", "web-b")
            ]
            for step in steps:
                step.result()
        built = time.monotonic()

        # This process reads and seeds the data host's database, and nudges through its Redis.
        data = network.hosts["data"].address
        db.update(NAME="oms", USER="oms", PASSWORD="", HOST=data, PORT=5432, CONN_MAX_AGE=0)
        from django.db import connections

        connections["default"].close()
        connections["default"].settings_dict.update(db)
        settings.OMS_CREDENTIAL_KEYS = [CREDENTIAL_KEY]
        app.conf.broker_url = f"redis://{data}:6379/0"

        # Start together, then wait for each: the hosts boot in parallel as real ones would.
        booting = [
            (_gunicorn(network.hosts["web-a"], envs["web-a"]).start(), "Booting worker"),
            (_gunicorn(network.hosts["web-b"], envs["web-b"]).start(), "Booting worker"),
            (_celery_worker(network.hosts["worker-a"], envs["worker-a"]).start(), "ready."),
            (_celery_worker(network.hosts["worker-b"], envs["worker-b"]).start(), "ready."),
            (_celery_beat(network.hosts["beat-a"], envs["beat-a"]).start(), "beat: Starting"),
        ]
        for process, ready in booting:
            process.wait_for(ready, timeout=120)
        cluster = Cluster(network, erp)
        for name in ("web-a", "web-b"):
            web = cluster.web(name)
            wait_until(lambda web=web: _answers(web), timeout=60, message=f"{name} answers")
        with django_db_blocker.unblock():
            from oms.models import Lease

            wait_until(
                lambda: Lease.objects.filter(name="celery-beat", holder__startswith="beat-a:").exists(),
                timeout=30,
                message="beat-a holds the lease",
            )
            _celery_beat(network.hosts["beat-b"], envs["beat-b"]).start(ready="beat: Starting")
            print(
                f"\nmulti-host cluster {network.run_id} on {network.subnet}: namespaces and data host "
                f"with migrations {built - started:.1f} s, all processes up {time.monotonic() - started:.1f} s"
            )
            yield cluster
    finally:
        from django.db import connections

        connections["default"].close()
        db.clear()
        db.update(saved_db)
        connections["default"].settings_dict.clear()
        connections["default"].settings_dict.update(saved_db)
        settings.OMS_CREDENTIAL_KEYS = saved_keys
        app.conf.broker_url = saved_broker
        if erp is not None:
            erp.stop()
        # The database last: the OMS processes stop first, then postgres (fast shutdown).
        data_host = network.hosts.get("data")
        order = [h for h in network.hosts.values() if h is not data_host]
        for host in order:
            for process in host.processes.values():
                process.stop(timeout=10)
        if data_host is not None:
            for process in data_host.processes.values():
                process.stop(signal.SIGINT, timeout=20)
        problems = network.destroy()
        shutil.rmtree(pg_dir, ignore_errors=True)
        if problems:
            print(f"\nmulti-host teardown left: {problems}")
    assert problems == [], problems


def _answers(web: WebClient) -> bool:
    try:
        return web.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def db_access(cluster, django_db_blocker):
    """The ORM on the data host's database, for the tests' own reads and seeding."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def erp(cluster):
    """The fake ERP with fresh books for each test."""
    cluster.erp.mode = "ok"
    cluster.erp.delay = 0.0
    return cluster.erp


if sys.platform != "linux":  # pragma: no cover - network namespaces are Linux's
    raise RuntimeError("the multi-host suite runs on Linux only")
