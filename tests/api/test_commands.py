"""Operations CLI: oms_sales_point, oms_token, purge_idempotency_keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError
from django.utils import timezone

from oms.models import IdempotencyRecord
from orders.models import ApiClient, SalesPoint
from orders.services.clients import hash_key
from tests.helpers import run_command as run

pytestmark = pytest.mark.django_db


def test_oms_sales_point_is_idempotent(plant):
    first = run("oms_sales_point", "KIOSK-9", "--channel", "kiosk", "--plant", "SOF1", "--name", "Kiosk 9")
    second = run("oms_sales_point", "KIOSK-9", "--channel", "kiosk", "--plant", "SOF1", "--name", "Kiosk 9")
    third = run("oms_sales_point", "KIOSK-9", "--channel", "storefront", "--plant", "SOF1")

    assert first == "created sales point KIOSK-9 channel=kiosk plant=SOF1 name=Kiosk 9\n"
    assert second == "unchanged sales point KIOSK-9 channel=kiosk plant=SOF1 name=Kiosk 9\n"
    assert third == "updated sales point KIOSK-9 channel=storefront plant=SOF1 name=Kiosk 9\n"
    assert SalesPoint.objects.filter(code="KIOSK-9").count() == 1


def test_oms_sales_point_needs_a_known_plant(db):
    with pytest.raises(CommandError, match="No plant NOPE"):
        run("oms_sales_point", "K", "--channel", "kiosk", "--plant", "NOPE")
    assert SalesPoint.objects.count() == 0


def test_oms_token_prints_only_a_working_key(sales_point_a, driver_factory, plant):
    driver = driver_factory(code="DRV-007", name="Georgi Driver", plant=plant)
    device = run("oms_token", "--sales-point", "KIOSK-SOF1-01").strip()
    driver_key = run("oms_token", "--driver", "DRV-007").strip()
    another = run("oms_token", "--sales-point", "KIOSK-SOF1-01").strip()

    assert " " not in device and len(device) >= 40
    assert ApiClient.objects.get(key_hash=hash_key(device)).sales_point == sales_point_a
    assert ApiClient.objects.get(key_hash=hash_key(driver_key)).driver_key.driver == driver
    assert another != device
    assert ApiClient.objects.filter(sales_point=sales_point_a, revoked_at__isnull=True).count() == 2


def test_oms_token_refuses_unknown_owners(db):
    with pytest.raises(CommandError, match="No sales point X"):
        run("oms_token", "--sales-point", "X")
    with pytest.raises(CommandError, match="No driver Y"):
        run("oms_token", "--driver", "Y")
    assert ApiClient.objects.count() == 0


def test_purge_idempotency_keys_deletes_only_expired_records(db):
    now = timezone.now()
    for key, age in (("old", timedelta(days=8)), ("recent", timedelta(days=6))):
        IdempotencyRecord.objects.create(
            scope="client:x",
            method="POST",
            path="/api/v1/orders/",
            key=key,
            fingerprint="f",
            created_at=now - age,
            locked_until=now,
        )

    output = run("purge_idempotency_keys")

    assert output == "purged 1 idempotency records older than 7 days\n"
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
