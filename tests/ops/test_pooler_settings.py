"""Why `OMS_DB_POOLER=transaction` changes what it changes: two Django connections share one server
connection through PgBouncer in transaction mode (pool size 1). With the direct settings, psycopg's
prepared statements collide on the shared server connection; with the pooler's, the same workload,
`QuerySet.iterator()`-style chunked reads included, runs cleanly."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import Error, connections
from django.db.backends.postgresql.base import DatabaseWrapper

from oms.lib.database import database_settings
from tests.erp_sync.conftest import BASE_DIR

STATEMENT = "SELECT %s::int + count(*) FROM pg_class WHERE relname = %s"


@pytest.fixture(scope="module", autouse=True)
def _pgbouncer_installed():
    subprocess.run([str(BASE_DIR / "scripts" / "ensure-pgbouncer.sh")], check=True)  # noqa: S603


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker):
    """These connections go to the private cluster, never to the test database."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def bouncer(pg_cluster):
    server = pg_cluster("primary")
    server.create_database("pooled")
    return pg_cluster.pgbouncer(server, pool_mode="transaction", pool_size=1)


@contextmanager
def django_connections(url: str, count: int, **switches) -> Iterator[list[DatabaseWrapper]]:
    """`count` Django connections (registered aliases, as django.contrib.postgres needs) to `url`."""
    config = database_settings(url, conn_max_age=0, **switches)
    aliases = [f"pooled{n}" for n in range(count)]
    for alias in aliases:
        connections.settings[alias] = connections.configure_settings({"default": {}, alias: dict(config)})[
            alias
        ]
    try:
        yield [connections[alias] for alias in aliases]
    finally:
        for alias in aliases:
            connections[alias].close()
            del connections[alias]
            del connections.settings[alias]


def interleave(connections: list[DatabaseWrapper], rounds: int = 8) -> list[int]:
    """The same statement on each connection in turn, `rounds` times (psycopg prepares after 5)."""
    results = []
    for n in range(rounds):
        for conn in connections:
            with conn.cursor() as cursor:
                cursor.execute(STATEMENT, [n, "pg_class"])
                results.append(cursor.fetchone()[0])
    return results


def test_the_direct_settings_break_behind_transaction_pooling(bouncer):
    with (
        django_connections(bouncer.url("pooled"), 2) as pair,
        pytest.raises(Error, match="prepared statement"),
    ):
        interleave(pair)


def test_the_pooler_settings_share_one_server_connection_cleanly(bouncer):
    with django_connections(bouncer.url("pooled"), 2, pooler="transaction") as pair:
        assert interleave(pair) == [n + 1 for n in range(8) for _ in range(2)]
        # A chunked read (what QuerySet.iterator() does) uses no server-side cursor here.
        assert pair[0].settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
        with pair[0].chunked_cursor() as cursor:
            cursor.execute("SELECT generate_series(1, 2500)")
            assert sum(1 for _ in iter(cursor.fetchone, None)) == 2500
        with pair[1].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            assert cursor.fetchone() == (0,)
    (pool,) = [row for row in bouncer.show("POOLS") if row["database"] == "pooled"]
    assert pool["sv_idle"] + pool["sv_used"] + pool["sv_active"] == 1
