"""Secrets at rest and the operations commands (docs/operations.md)."""

import json
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from erp_sync import secrets
from erp_sync.models import SyncRun
from oms.models import ErpSystem, OutboxMessage
from oms.outbox import outbox_enqueue
from orders.models import Order
from tests.helpers import run_command as run

pytestmark = pytest.mark.django_db


def test_credentials_are_encrypted_and_env_overrides(monkeypatch, settings):
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["erp"]  # an ERP on the internal network
    assert (
        run(
            "oms_erp_system",
            "ERP-A",
            "--adapter",
            "http_json",
            "--base-url",
            "http://erp",
            "--token",
            "t1",
            "--secret",
            "s1",
        )
        == "ERP system ERP-A created (http_json, enabled, default)\n"
    )
    system = ErpSystem.objects.get(code="ERP-A")
    assert "t1" not in system.token_encrypted and "s1" not in system.secret_encrypted
    assert (secrets.system_token(system), secrets.system_secret(system)) == ("t1", "s1")

    monkeypatch.setenv("ERP_ERP_A_TOKEN", "from-env")
    monkeypatch.setenv("ERP_ERP_A_SECRET", "secret-env")
    assert (secrets.system_token(system), secrets.system_secret(system)) == ("from-env", "secret-env")


def test_unreadable_ciphertext_reads_as_empty(settings):
    token = secrets.encrypt("t1")
    settings.SECRET_KEY = "another-key-" + "x" * 50

    assert secrets.decrypt(token) == ""


def test_oms_erp_system_is_idempotent(settings):
    settings.OMS_ERP_ALLOWED_PRIVATE_HOSTS = ["erp"]
    args = [
        "oms_erp_system",
        "ERP1",
        "--adapter",
        "http_json",
        "--base-url",
        "http://erp",
        "--token",
        "t",
        "--secret",
        "s",
        "--poll-seconds",
        "30",
    ]
    run(*args)
    before = ErpSystem.objects.values().get()

    assert run(*args) == "ERP system ERP1 unchanged (http_json, enabled, default)\n"
    assert ErpSystem.objects.values().get() == before
    assert run("oms_erp_system", "ERP1", "--adapter", "file_drop", "--disable") == (
        "ERP system ERP1 updated (file_drop, disabled, default)\n"
    )


def test_second_system_is_not_default():
    run("oms_erp_system", "ERP1", "--adapter", "simulator")

    assert (
        run("oms_erp_system", "ERP2", "--adapter", "simulator")
        == "ERP system ERP2 created (simulator, enabled)\n"
    )


def test_bad_poll_seconds_is_refused():
    with pytest.raises(CommandError):
        run("oms_erp_system", "ERP1", "--adapter", "simulator", "--poll-seconds", "0")
    assert not ErpSystem.objects.exists()


def enqueue(aggregate_id, count, system):
    with transaction.atomic():
        return [
            outbox_enqueue(
                type="order.correction",
                aggregate_type="order",
                aggregate_id=aggregate_id,
                payload={},
                system=system,
            )
            for _ in range(count)
        ]


def test_outbox_status_and_replay(erp_system):
    messages = enqueue("ORD-1", 3, erp_system)
    OutboxMessage.objects.filter(pk__in=[messages[0].pk, messages[1].pk]).update(
        status="dead",
        attempts=3,
        last_error="rejected: bad",
        created_at=timezone.now() - timedelta(seconds=90),
    )
    OutboxMessage.objects.filter(pk=messages[2].pk).update(created_at=timezone.now() - timedelta(seconds=42))

    assert run("outbox_status") == "ERP1: pending=1 dead=2 oldest_pending_age=42s\n"
    data = json.loads(run("outbox_status", "--json"))
    assert data["systems"] == [
        {"system": "ERP1", "pending": 1, "dead": 2, "oldest_pending_age_seconds": 42.0}
    ]
    assert data["dead"][0] == {
        "id": str(messages[0].pk),
        "system": "ERP1",
        "type": "order.correction",
        "aggregate": "order:ORD-1",
        "status": "dead",
        "attempts": 3,
        "last_error": "rejected: bad",
    }

    assert run("outbox_replay", "--aggregate", "order:ORD-1") == "replayed 2 messages\n"
    assert run("outbox_replay", "--aggregate", "order:ORD-1") == "replayed 0 messages\n"
    assert list(OutboxMessage.objects.order_by("sequence").values_list("status", "attempts")) == [
        ("pending", 0),
        ("pending", 0),
        ("pending", 0),
    ]


def test_outbox_replay_by_id_and_bad_input(erp_system):
    [message] = enqueue("ORD-1", 1, erp_system)
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead")

    assert run("outbox_replay", "--id", str(message.pk)) == "replayed 1 message\n"
    with pytest.raises(CommandError):
        run("outbox_replay", "--id", "nope")
    with pytest.raises(CommandError):
        run("outbox_replay", "--aggregate", "invoice:1")


def test_erp_reconcile_repairs_sync_state(erp_system, world):
    order = world.place()
    OutboxMessage.objects.filter(aggregate_id=order.number).update(status="sent")
    Order.objects.filter(pk=order.pk).update(erp_sync_state="pending")

    assert run("erp_reconcile", "--system", "ERP1", "--days", "1") == (
        "reconciled: applied=0 marked_failed=0 marked_pending=0 marked_sent=1 routed=0 slots_purged=0 "
        "unacknowledged=0\n"
    )
    assert Order.objects.get(pk=order.pk).erp_sync_state == "sent"
    assert SyncRun.objects.get(direction="reconcile").counts["marked_sent"] == 1
    assert "marked_sent=0" in run("erp_reconcile")
    with pytest.raises(CommandError):
        run("erp_reconcile", "--system", "NOPE")


def test_breaker_states_for_readyz(erp_system):
    from oms.selectors import erp_breaker_states

    assert erp_breaker_states() == {"ERP1": {"state": "ok", "reason": ""}}
