"""What the benchmarks share: a dedicated PostgreSQL database migrated with a tree's own `manage.py`,
gunicorn and Celery workers started from a tree's own virtualenv, management commands.

Nothing here imports the project, so a benchmark can drive another checkout of it (`Tree`): its
manage.py, gunicorn and celery run with `cwd` = that checkout and its `.venv`.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks that run the project in-process import it from here


@dataclass(frozen=True)
class Tree:
    """A checkout of the project and the virtualenv it runs with."""

    path: Path

    @property
    def bin(self) -> Path:
        # This process's virtualenv for its own tree (`make bench` picks it), else the tree's `.venv`.
        return Path(sys.executable).parent if self.path == ROOT else self.path / ".venv" / "bin"

    @property
    def python(self) -> str:
        return sys.executable if self.path == ROOT else str(self.bin / "python")

    def revision(self) -> str:
        found = subprocess.run(
            ["git", "-C", str(self.path), "describe", "--always", "--dirty", "--abbrev=7"],
            capture_output=True,
            text=True,
            check=False,
        )
        return found.stdout.strip() or "?"


HERE = Tree(ROOT)


def configure(default_database: str, var: str) -> str:
    """The environment of a benchmark that runs Django in-process: DATABASE_URL (kept when set, as
    `bench/run.py` sets it), settings (DJANGO_ENV=test unless set), its own var directory, DEBUG off.
    Returns the database URL."""
    url = os.environ.setdefault("DATABASE_URL", default_database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    os.environ.setdefault("DJANGO_ENV", "test")  # as `make bench` sets it; unset would mean production
    os.environ.setdefault("OMS_VAR_DIR", str(ROOT / "var" / var))
    os.environ["DJANGO_DEBUG"] = "0"
    return url


def create_database(database_url: str, *, fresh: bool) -> None:
    """Create the database of `database_url` if missing; `fresh` drops it first."""
    import psycopg

    url = urlparse(database_url)
    if not url.scheme.startswith("postgres"):
        raise SystemExit("benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        if not exists or fresh:
            conn.execute(f'CREATE DATABASE "{name}"')


def manage(
    *args: str, database_url: str, tree: Tree = HERE, env: dict[str, str] | None = None, capture=False
) -> str:
    """Run `manage.py <args>` of `tree` on `database_url`; returns its standard output when captured."""
    done = subprocess.run(
        [tree.python, "manage.py", *args],
        cwd=tree.path,
        env={**os.environ, **(env or {}), "DATABASE_URL": database_url},
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return done.stdout or ""


def prepare_database(
    database_url: str, *, fresh: bool = False, tree: Tree = HERE, env: dict[str, str] | None = None
) -> None:
    """Create the benchmark's database (dropped first when `fresh`) and migrate it with the tree's
    own migrations."""
    create_database(database_url, fresh=fresh)
    manage("migrate", "--no-input", "-v", "0", database_url=database_url, tree=tree, env=env)


def settle_database(database_url: str) -> None:
    """VACUUM ANALYZE and CHECKPOINT before measuring, as pgbench vacuums before its runs: earlier
    runs' dead rows (a server with autovacuum off keeps them) and their pending WAL would otherwise
    weigh on whichever phase they happen to fall in."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        try:
            conn.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("CHECKPOINT needs a superuser (or pg_checkpoint): skipped")


def _answers(port: int, path: str) -> int | None:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path, headers={"Host": "127.0.0.1"})
        return conn.getresponse().status
    except OSError:
        return None


def start_gunicorn(
    *,
    port: int,
    workers: int,
    env: dict[str, str],
    tree: Tree = HERE,
    health: str = "/healthz",
    timeout: float = 60,
) -> subprocess.Popen:
    """gunicorn (sync workers) serving `tree` on 127.0.0.1:`port`; returns once `health` answers 200."""
    if _answers(port, health) is not None:
        raise SystemExit(f"port {port} is taken by another server")
    server = subprocess.Popen(
        [str(tree.bin / "gunicorn"), "oms.wsgi:application", "--chdir", str(tree.path)]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"],
        cwd=tree.path,
        env={**os.environ, "LOG_LEVEL": "WARNING", **env},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        if _answers(port, health) == 200:
            return server
        time.sleep(0.2)
    stop_gunicorn(server)
    raise SystemExit("gunicorn did not start")


def stop_gunicorn(server: subprocess.Popen) -> None:
    server.terminate()  # the master stops its workers
    try:
        server.wait(15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(5)


def start_celery_worker(
    *,
    env: dict[str, str],
    log: Path,
    tree: Tree = HERE,
    queues: str = "erp,files,default,celery",
    concurrency: int = 1,
    loglevel: str = "WARNING",
) -> subprocess.Popen:
    """One `celery worker` (prefork) of `tree`, in a process group of its own, logging to `log`.

    It consumes the three queues and `celery`, the only queue of the code before they were split (the
    paired rounds run an older tree too). At `loglevel="INFO"` the log has a line per task received and
    per task finished, for a benchmark that counts them."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        return subprocess.Popen(
            [str(tree.bin / "celery"), "-A", "oms", "worker", "--pool", "prefork", "-c", str(concurrency)]
            + ["-Q", queues, "--loglevel", loglevel, "--without-heartbeat", "--without-gossip"]
            + ["--without-mingle", "-n", f"bench-{uuid.uuid4().hex[:8]}@%h"],
            cwd=tree.path,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_celery_workers(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        os.killpg(worker.pid, signal.SIGTERM)  # the pool's children with it
    for worker in workers:
        worker.wait(timeout=30)


def pct(values: list[float], p: float) -> float:
    """The p-th percentile of `values` by the nearest-rank method (p in 0..100)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]
