"""The runbook's alert expressions name metrics that `/metrics` really exposes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from erp_sync.models import InboxMessage
from oms.tasks import purge_idempotency_keys
from orders.models import Channel

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def section(title: str) -> str:
    text = (ROOT / "docs" / "operations.md").read_text()
    return re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)[1]


def test_every_metric_the_alerts_name_is_scraped(
    client, world, erp_system_factory, django_capture_on_commit_callbacks
):
    # One of each: a request, an order, a task, an ERP system with a failed inbound message.
    with django_capture_on_commit_callbacks(execute=True):
        world.place(channel=Channel.KIOSK)
    purge_idempotency_keys.apply()
    system = erp_system_factory(code="SAP-EAST", enabled=True)
    InboxMessage.objects.create(system=system, message_id="m1", status="failed", received_at=timezone.now())
    assert client.get("/healthz").status_code == 200

    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    samples = {
        sample.name
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }
    named = set(re.findall(r"\boms_[a-z_]+\b", section("Alerts")))

    assert named, "the alerts name no metric"
    assert named - samples == set()
    assert {
        "oms_broker_up",
        "oms_outbox_oldest_pending_age_seconds",
        "oms_outbox_backlog",
        "oms_inbox_failed",
        "oms_queue_depth",
        "oms_http_request_duration_seconds_count",
        "oms_http_request_duration_seconds_bucket",
        "oms_task_duration_seconds_count",
        "oms_orders_placed_total",
    } == named
