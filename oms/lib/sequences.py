"""Gap-tolerant, contention-free human numbers (orders, customers, tickets, tours).

On PostgreSQL each name is a real SEQUENCE (`nextval` never blocks a concurrent transaction); on
SQLite, where writers are serialised anyway, a counter row is incremented.
"""

from __future__ import annotations

import re

from django.db import connection

from oms.models import Counter

SEQUENCE_NAMES = ("order_number", "customer_number", "ticket_number", "tour_number", "return_number")
_NAME = re.compile(r"^[a-z_]{1,40}$")


def _sequence(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"bad sequence name {name!r}")
    return f"oms_seq_{name}"


def next_value(name: str) -> int:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s)", [_sequence(name)])
            return int(cursor.fetchone()[0])
    table = connection.ops.quote_name(Counter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, 1) "  # noqa: S608 - quoted table name only
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + 1 RETURNING value",
            [name],
        )
        return int(cursor.fetchone()[0])


def next_values(name: str, count: int) -> list[int]:
    """`count` numbers at once (bulk seeding)."""
    if count <= 0:
        return []
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(%s) FROM generate_series(1, %s)", [_sequence(name), count])
            return [int(row[0]) for row in cursor.fetchall()]
    table = connection.ops.quote_name(Counter._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (name, value) VALUES (%s, %s) "  # noqa: S608 - quoted table name only
            f"ON CONFLICT (name) DO UPDATE SET value = {table}.value + %s RETURNING value",
            [name, count, count],
        )
        last = int(cursor.fetchone()[0])
    return list(range(last - count + 1, last + 1))


def create_sequences(schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEQUENCE_NAMES:
        schema_editor.execute(f"CREATE SEQUENCE IF NOT EXISTS {_sequence(name)}")


def drop_sequences(schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in SEQUENCE_NAMES:
        schema_editor.execute(f"DROP SEQUENCE IF EXISTS {_sequence(name)}")
