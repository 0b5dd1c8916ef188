"""Private PostgreSQL 15 clusters (and a PgBouncer) that a test starts, breaks and throws away.

The shared PostgreSQL of the test machine is never stopped: a test that kills, promotes, drops or pools
a server does it to a cluster of its own, made here with the server's own tools (initdb, pg_ctl,
pg_basebackup) in a directory of its own, on a free loopback port, its socket in that directory.

PostgreSQL refuses to run as root: when the tests run as root, the server programs run as the
`postgres` system user (`runuser`), and the cluster directory belongs to it. That directory is made
with `tempfile` rather than under pytest's `tmp_path`, whose parents only root may enter.

    cluster = pg_cluster("primary")          # fixture: initdb + start; stopped and removed afterwards
    cluster.create_database("oms")
    cluster.url("oms")                        # postgres://postgres@127.0.0.1:<port>/oms
    replica = pg_cluster.replica_of(cluster)  # pg_basebackup -R, streaming
    cluster.kill9(); replica.promote()
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path(os.environ.get("OMS_PG_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "postgres"
# Settings of a throwaway cluster: small, quick to start, replication ready; durable enough for a
# kill -9 of the server (the operating system keeps what it wrote, so fsync is not needed).
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "shared_buffers": "64MB",
    "fsync": "off",
    "full_page_writes": "off",
    "wal_level": "replica",
    "max_wal_senders": "5",
    "wal_keep_size": "256MB",
    "hot_standby": "on",
    "timezone": "'UTC'",
    "log_min_messages": "warning",
    "log_line_prefix": "'%m [%p] '",
}


def free_port() -> int:
    """A TCP port on loopback nobody listens on (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_user() -> str | None:
    """The system user the server programs run as: `postgres` when we are root, else ourselves."""
    return SUPERUSER if os.geteuid() == 0 else None


def run_as_server(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the server's system user; raise with its output when it fails."""
    user = _server_user()
    command = (["runuser", "-u", user, "--"] if user else []) + args
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done


def server_owned_dir(prefix: str) -> Path:
    """A new directory only the server's system user (and root) may enter."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user := _server_user():
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)
    return path


class PgCluster:
    """One PostgreSQL server: its data directory, port and log, under `root`."""

    def __init__(self, root: Path, name: str):
        self.root = root
        self.name = name
        self.data = root / name
        self.log = root / f"{name}.log"
        self.port = free_port()

    # --- lifecycle -------------------------------------------------------------------------------
    def init(self) -> PgCluster:
        run_as_server(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8"]
            + ["--locale=C.UTF-8", "--no-sync"]
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items())
        return self

    def configure(self, **settings: str) -> None:
        """Append server settings (`archive_command="'cp %p /x/%f'"`); they apply at the next start."""
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> PgCluster:
        run_as_server(
            [str(PG_BIN / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data), "-l", str(self.log)]
            + ["-o", f"-p {self.port} -k {self.root}"]
        )
        return self

    def stop(self) -> None:
        if self.running():
            run_as_server([str(PG_BIN / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data)])

    def postmaster_pid(self) -> int | None:
        pidfile = self.data / "postmaster.pid"
        try:
            return int(pidfile.read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.postmaster_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill9(self) -> None:
        """The server dies as its host would: SIGKILL to the postmaster and every backend at once
        (pg_ctl made the postmaster the leader of its own process group)."""
        pid = self.postmaster_pid()
        assert pid is not None, f"{self.name} is not running"
        os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.running(), f"{self.name} survived SIGKILL"

    def promote(self) -> None:
        """End recovery: the standby becomes a primary that accepts writes (`pg_ctl promote -w`)."""
        run_as_server([str(PG_BIN / "pg_ctl"), "promote", "-w", "-t", "60", "-D", str(self.data)])

    # --- connecting ------------------------------------------------------------------------------
    def url(self, database: str = "postgres") -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url(database), autocommit=True, connect_timeout=5, **kwargs)

    def query(self, sql: str, params=None, *, database: str = "postgres") -> list[tuple]:
        with self.connect(database) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def in_recovery(self) -> bool:
        return self.query("SELECT pg_is_in_recovery()")[0][0]

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class PgBouncer:
    """PgBouncer in front of one cluster, listening on its own loopback port."""

    def __init__(
        self, root: Path, cluster: PgCluster, *, pool_mode: str = "transaction", pool_size: int = 10
    ):
        self.root = root
        self.cluster = cluster
        self.port = free_port()
        self.ini = root / "pgbouncer.ini"
        self.log = root / "pgbouncer.log"
        self.pidfile = root / "pgbouncer.pid"
        self.pool_mode = pool_mode
        self.pool_size = pool_size

    def start(self) -> PgBouncer:
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        (self.root / "userlist.txt").write_text(f'"{SUPERUSER}" ""\n')
        self.ini.write_text(
            "[databases]\n"
            f"* = host=127.0.0.1 port={self.cluster.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.root / 'userlist.txt'}\n"
            f"pool_mode = {self.pool_mode}\ndefault_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\nserver_reset_query =\nignore_startup_parameters = extra_float_digits\n"
            f"admin_users = {SUPERUSER}\nlogfile = {self.log}\npidfile = {self.pidfile}\n"
        )
        for path in (self.ini, self.root / "userlist.txt"):
            if user := _server_user():
                entry = pwd.getpwnam(user)
                os.chown(path, entry.pw_uid, entry.pw_gid)
        run_as_server([binary, "-d", str(self.ini)])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.url("pgbouncer"), autocommit=True, prepare_threshold=None):
                    return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not start:\n{self.log.read_text(errors='replace')}")

    def url(self, database: str) -> str:
        return f"postgres://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def show(self, what: str) -> list[dict]:
        """`SHOW POOLS`, `SHOW STATS`, … of the admin console, as dicts."""
        with psycopg.connect(self.url("pgbouncer"), autocommit=True, prepare_threshold=None) as conn:
            cursor = conn.cursor()
            cursor.execute(f"SHOW {what}", prepare=False)
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self) -> None:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


class Clusters:
    """What the `pg_cluster` fixture hands out: `pg_cluster(name)` is a new started primary."""

    def __init__(self):
        self.root = server_owned_dir("oms-pg-")
        self.clusters: list[PgCluster] = []
        self.bouncers: list[PgBouncer] = []

    def __call__(self, name: str, **settings: str) -> PgCluster:
        cluster = PgCluster(self.root, name).init()
        cluster.configure(**settings)
        self.clusters.append(cluster)
        return cluster.start()

    def replica_of(self, primary: PgCluster, name: str = "replica") -> PgCluster:
        """A streaming replica of `primary`: a base backup with `-R` (standby.signal and
        primary_conninfo written for us), started on a port of its own."""
        replica = PgCluster(self.root, name)
        run_as_server(
            [str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", SUPERUSER]
            + ["-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"]
        )
        self.clusters.append(replica)
        return replica.start()

    def pgbouncer(self, cluster: PgCluster, **options) -> PgBouncer:
        bouncer = PgBouncer(self.root, cluster, **options)
        self.bouncers.append(bouncer)
        return bouncer.start()

    def close(self) -> None:
        for bouncer in self.bouncers:
            bouncer.stop()
        for cluster in self.clusters:
            try:
                cluster.stop()
            except RuntimeError:
                if cluster.running():
                    cluster.kill9()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_cluster():
    """A factory of private PostgreSQL clusters (and PgBouncers), all stopped and removed afterwards."""
    clusters = Clusters()
    yield clusters
    clusters.close()
