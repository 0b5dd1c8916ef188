"""`DATABASES["default"]` from `DATABASE_URL` and a few switches (docs/operations.md, "PostgreSQL and
pgbouncer" and "Database failover").

Two things dj-database-url does not know:

- **Several hosts.** libpq accepts `host=a,b port=1,2`: it tries the hosts in order and, with
  `target_session_attrs=read-write`, keeps the first that accepts writes, so after a failover the
  processes find the promoted server by themselves. `postgres://u@a:5432,b:5432/oms?...` is split
  here into Django's HOST and PORT, which Django hands to psycopg (and psycopg to libpq) as they are.
- **A pooler in transaction mode** (PgBouncer `pool_mode = transaction`). A server connection then
  belongs to a client for one transaction only, so nothing may outlive a transaction on it: no
  server-side cursors (`QuerySet.iterator()` would declare one), no named prepared statements
  (PgBouncer before 1.21 does not track them) and no Django connection pool on top of the pooler.
"""

from __future__ import annotations

import re
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

POOLERS = ("", "transaction")
_MULTI_HOST = re.compile(r"^(?P<scheme>[^:]+://)(?P<auth>[^@/]*@)?(?P<hosts>[^/?]*,[^/?]*)(?P<rest>[/?].*)?$")


def split_hosts(hosts: str) -> tuple[str, str]:
    """`a:5432,b:5433` → (`a,b`, `5432,5433`); a host without a port gets libpq's default, 5432."""
    names, ports = [], []
    for item in hosts.split(","):
        if not item:
            raise ImproperlyConfigured("DATABASE_URL: an empty host in the host list.")
        name, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        if port and not port.isdigit():
            raise ImproperlyConfigured(f"DATABASE_URL: {item!r} is not host:port.")
        names.append(name or item)
        ports.append(port or "5432")
    return ",".join(names), ",".join(ports)


def database_settings(
    url: str, *, conn_max_age: int | None, pooler: str = "", server_side_binding: bool = True
) -> dict[str, Any]:
    """The `DATABASES["default"]` entry for `url`.

    `conn_max_age` None means "the default for this setup": 60 s, or 0 behind a transaction pooler
    (the pooler keeps the server connections warm; a connection to it costs little).
    """
    if pooler not in POOLERS:
        raise ImproperlyConfigured(f"OMS_DB_POOLER must be empty or 'transaction', got {pooler!r}.")
    multi = _MULTI_HOST.match(url)
    if multi:
        single = f"{multi['scheme']}{multi['auth'] or ''}multi-host{multi['rest'] or ''}"
        config: dict[str, Any] = dj_database_url.parse(single)
        config["HOST"], config["PORT"] = split_hosts(multi["hosts"])
    else:
        config = dj_database_url.parse(url)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if multi or pooler:
            raise ImproperlyConfigured("A host list and OMS_DB_POOLER are for PostgreSQL only.")
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["CONN_MAX_AGE"] = 0
        return config
    options = config.setdefault("OPTIONS", {})
    if "pool" in options:
        raise ImproperlyConfigured(
            "Django's connection pool is not used: each process holds one connection per thread, "
            "and a shared pool belongs in PgBouncer (docs/operations.md)."
        )
    # A request that finds its kept connection broken (the server restarted, failed over, or a
    # pooler dropped it) reconnects at once instead of failing once.
    config["CONN_HEALTH_CHECKS"] = True
    if pooler == "transaction":
        config["CONN_MAX_AGE"] = 0 if conn_max_age is None else conn_max_age
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        # Client-side binding (Django's default cursor) and no prepared statements: each statement
        # is complete in itself, whichever server connection the pooler picks for it.
        options["prepare_threshold"] = None
        return config
    config["CONN_MAX_AGE"] = 60 if conn_max_age is None else conn_max_age
    if server_side_binding:
        # Server-side parameter binding, and psycopg prepares a statement after its 5th run on a
        # connection: the hot paths (order placement, the inbox) skip parsing and planning.
        options.update(server_side_binding=True, prepare_threshold=5)
    return config
