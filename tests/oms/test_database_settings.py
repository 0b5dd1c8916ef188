"""`DATABASES["default"]` from the URL and the switches (oms.lib.database): a host list for failover,
the settings behind a pooler in transaction mode, health checks everywhere."""

from __future__ import annotations

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql.base import DatabaseWrapper

from oms.lib.database import database_settings, split_hosts

FAILOVER_URL = (
    "postgres://oms:s3cret@db-a.internal:5432,db-b.internal:5433/oms"
    "?target_session_attrs=read-write&connect_timeout=3"
)


def test_a_single_host_keeps_persistent_connections_with_health_checks_and_prepared_statements():
    config = database_settings("postgres://oms:pw@db:5432/oms", conn_max_age=None)

    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db", 5432, "oms")
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (60, True)
    assert config["OPTIONS"] == {"server_side_binding": True, "prepare_threshold": 5}
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_a_host_list_goes_to_libpq_as_comma_separated_hosts_and_ports():
    config = database_settings(FAILOVER_URL, conn_max_age=30)

    assert (config["HOST"], config["PORT"]) == ("db-a.internal,db-b.internal", "5432,5433")
    assert (config["USER"], config["PASSWORD"], config["NAME"]) == ("oms", "s3cret", "oms")
    assert config["OPTIONS"] == {
        "target_session_attrs": "read-write",
        "connect_timeout": 3,
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (30, True)


def test_django_hands_the_host_list_to_psycopg_which_reads_two_hosts():
    config = database_settings(FAILOVER_URL, conn_max_age=0)
    wrapper = DatabaseWrapper({**config, "TIME_ZONE": None, "AUTOCOMMIT": True, "ATOMIC_REQUESTS": False})

    params = wrapper.get_connection_params()

    assert (params["host"], params["port"], params["target_session_attrs"]) == (
        "db-a.internal,db-b.internal",
        "5432,5433",
        "read-write",
    )
    conninfo = psycopg.conninfo.make_conninfo(
        "", **{k: v for k, v in params.items() if k in ("host", "port", "dbname", "target_session_attrs")}
    )
    attempts = psycopg.conninfo.conninfo_to_dict(conninfo)
    assert (attempts["host"], attempts["port"]) == ("db-a.internal,db-b.internal", "5432,5433")


def test_a_host_without_a_port_gets_the_default_port():
    assert split_hosts("a,b:6432") == ("a,b", "5432,6432")


@pytest.mark.parametrize("hosts", ["a:5432,,b:5432", "a:x,b:5432"])
def test_a_malformed_host_list_is_refused(hosts):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_settings(f"postgres://u@{hosts}/oms", conn_max_age=None)


def test_transaction_pooling_turns_off_what_outlives_a_transaction():
    config = database_settings("postgres://oms@pgbouncer:6432/oms", conn_max_age=None, pooler="transaction")

    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert config["OPTIONS"] == {"prepare_threshold": None}  # client-side binding, nothing prepared
    assert (config["CONN_MAX_AGE"], config["CONN_HEALTH_CHECKS"]) == (0, True)
    assert (
        database_settings("postgres://oms@pgbouncer:6432/oms", conn_max_age=60, pooler="transaction")[
            "CONN_MAX_AGE"
        ]
        == 60
    )


def test_server_side_binding_can_be_turned_off():
    config = database_settings("postgres://oms@db/oms", conn_max_age=None, server_side_binding=False)

    assert config["OPTIONS"] == {}


@pytest.mark.parametrize(
    ("url", "pooler", "message"),
    [
        ("postgres://oms@db/oms", "session", "OMS_DB_POOLER"),
        ("postgres://oms@db/oms?pool=true", "", "connection pool"),
        ("sqlite:///var/oms.sqlite3", "transaction", "PostgreSQL only"),
    ],
)
def test_impossible_combinations_are_refused(url, pooler, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        database_settings(url, conn_max_age=None, pooler=pooler)


def test_sqlite_never_keeps_connections_and_writes_immediately():
    config = database_settings("sqlite:///var/x.sqlite3", conn_max_age=60)

    assert config["CONN_MAX_AGE"] == 0
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
