"""Leases and slot claims in the database, so that a second beat (or worker) is harmless.

`lease_acquire` is one atomic upsert: it inserts the lease, or takes it over when it expired or is
already ours, and reports whether we hold it. Works on PostgreSQL and SQLite (≥ 3.35).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from oms.models import JobSlot, Lease


def lease_acquire(name: str, *, holder: str, ttl_seconds: int, now: datetime | None = None) -> bool:
    """Take or renew lease `name` for `holder`. True when `holder` holds it afterwards."""
    now = now or timezone.now()
    expires = now + timedelta(seconds=ttl_seconds)
    table = connection.ops.quote_name(Lease._meta.db_table)
    sql = (
        f"INSERT INTO {table} (name, holder, expires_at, acquired_at) VALUES (%s, %s, %s, %s) "
        f"ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, "
        f"acquired_at = CASE WHEN {table}.holder = EXCLUDED.holder THEN {table}.acquired_at "
        f"ELSE EXCLUDED.acquired_at END "
        f"WHERE {table}.expires_at < %s OR {table}.holder = EXCLUDED.holder "
        f"RETURNING holder"
    )
    params = [name, holder, _db(expires), _db(now), _db(now)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row is not None and row[0] == holder


def lease_release(name: str, *, holder: str) -> None:
    Lease.objects.filter(name=name, holder=holder).delete()


def slot_claim(job: str, slot: str, *, holder: str) -> bool:
    """Claim one run of `job` for `slot` (e.g. the minute). False when somebody already ran it."""
    try:
        with transaction.atomic():
            JobSlot.objects.create(job=job, slot=slot, holder=holder, claimed_at=timezone.now())
    except IntegrityError:
        return False
    return True


def period_claim(job: str, seconds: float, *, holder: str | None) -> bool:
    """Claim the current `seconds`-wide time slot of periodic `job`: True for the first run in it."""
    return slot_claim(job, str(int(time.time() // seconds)), holder=holder or "direct")


def _db(value: datetime):
    """Datetimes in raw SQL: adapt them as the ORM would (SQLite stores naive UTC text)."""
    return connection.ops.adapt_datetimefield_value(value)
