"""The beat's housekeeping jobs: expired sessions, idempotency keys and old GPS points, once per slot."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from fleet.models import PositionReport
from fleet.tasks import positions_compact_daily
from oms.models import IdempotencyRecord
from oms.tasks import clear_sessions, purge_idempotency_keys
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_clear_sessions_deletes_only_expired_sessions_once_a_day():
    live = SessionStore()
    live["n"] = 1
    live.create()
    for _ in range(2):
        expired = SessionStore()
        expired.create()
        Session.objects.filter(session_key=expired.session_key).update(
            expire_date=timezone.now() - timedelta(seconds=1)
        )

    assert clear_sessions.apply().get() is True
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]
    assert clear_sessions.apply().get() is None


def test_idempotency_keys_past_retention_go_once_an_hour(settings):
    settings.OMS_IDEMPOTENCY_RETENTION_DAYS = 7
    now = timezone.now()
    for n, age in enumerate([8, 30, 6]):
        IdempotencyRecord.objects.create(
            scope="s",
            method="POST",
            path="/p",
            key=f"k{n}",
            fingerprint="f",
            created_at=now - timedelta(days=age),
            locked_until=now,
        )

    assert purge_idempotency_keys.apply().get() == 2
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k2"]
    assert purge_idempotency_keys.apply().get() is None


def test_positions_older_than_the_setting_are_compacted_once_a_day(settings):
    settings.OMS_POSITIONS_COMPACT_DAYS = 7
    truck = f.TruckFactory()
    base = (timezone.now() - timedelta(days=8)).replace(minute=0, second=0, microsecond=0)
    old = [base + timedelta(seconds=30 * i) for i in range(20)]  # 2 buckets of 5 minutes
    recent = [timezone.now() - timedelta(days=6, minutes=i) for i in range(3)]
    PositionReport.objects.bulk_create(
        PositionReport(truck=truck, at=at, lat=1, lon=2) for at in old + recent
    )

    assert positions_compact_daily.apply().get() == 18
    assert sorted(PositionReport.objects.values_list("at", flat=True)) == sorted([old[0], old[10], *recent])
    assert positions_compact_daily.apply().get() is None
