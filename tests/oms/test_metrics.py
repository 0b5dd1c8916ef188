"""`/metrics`: who may read it, and that its numbers are the real ones."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from erp_sync.models import InboxMessage
from oms.celery import app
from oms.models import OutboxMessage
from oms.tasks import purge_idempotency_keys
from orders.models import Channel
from tests import factories as f
from tests.erp_sync.conftest import broker

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-0123456789"


def scrape(client, **headers) -> dict:
    """{(sample name, frozenset of labels): value} of one scrape."""
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def by_name(samples: dict, name: str) -> dict:
    return {
        dict(labels).get("queue") or dict(labels).get("system"): v
        for (n, labels), v in samples.items()
        if n == name
    }


# --- access ----------------------------------------------------------------------------------------


def test_loopback_may_scrape_without_a_token(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_other_addresses_get_a_plain_404(client, settings):
    settings.OMS_METRICS_TOKEN = TOKEN

    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert response.status_code == 404
    assert b"oms_" not in response.content


def test_the_bearer_token_opens_it_from_anywhere_and_a_wrong_one_does_not(client, settings):
    settings.OMS_METRICS_TOKEN = TOKEN

    assert (
        client.get(
            "/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": f"Bearer {TOKEN}"}
        ).status_code
        == 200
    )
    assert (
        client.get("/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": "Bearer nope"}).status_code
        == 404
    )
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": f"Basic {TOKEN}"}
        ).status_code
        == 404
    )


def test_no_token_configured_means_no_token_works(client, settings):
    settings.OMS_METRICS_TOKEN = ""

    assert (
        client.get("/metrics", REMOTE_ADDR="10.1.2.3", headers={"Authorization": "Bearer "}).status_code
        == 404
    )


def test_allowed_networks_are_configurable(client, settings):
    settings.OMS_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_a_request_through_a_proxy_is_not_let_in_by_its_address(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.9"})

    assert response.status_code == 404


# --- values ----------------------------------------------------------------------------------------


def outbox(system, status, age_seconds, n):
    at = timezone.now() - timedelta(seconds=age_seconds)
    return OutboxMessage.objects.create(
        system=system,
        type="order.created",
        aggregate_type="order",
        aggregate_id=f"ORD-M-{n}",
        sequence=1,
        payload={},
        status=status,
        next_attempt_at=at,
        created_at=at,
        sent_at=at if status == "sent" else None,
    )


def test_outbox_backlog_oldest_age_and_inbox_failures_per_erp(client):
    a = f.ErpSystemFactory(code="ERP-A")
    b = f.ErpSystemFactory(code="ERP-B")
    for n, age in enumerate([120, 60, 10]):
        outbox(a, "pending", age, n)
    outbox(a, "sent", 900, 3)
    outbox(a, "dead", 900, 4)
    outbox(b, "failed", 300, 5)
    for n, status in enumerate(["failed", "failed", "processed"]):
        InboxMessage.objects.create(system=a, message_id=f"m{n}", status=status, received_at=timezone.now())
    InboxMessage.objects.create(system=b, message_id="m9", status="received", received_at=timezone.now())

    samples = scrape(client)

    assert by_name(samples, "oms_outbox_backlog") == {"ERP-A": 3, "ERP-B": 1}
    ages = by_name(samples, "oms_outbox_oldest_pending_age_seconds")
    assert sorted(ages) == ["ERP-A", "ERP-B"]
    assert 120 <= ages["ERP-A"] < 125
    assert 300 <= ages["ERP-B"] < 305
    assert by_name(samples, "oms_inbox_failed") == {"ERP-A": 2}


def test_queue_depths_from_the_broker(client):
    broker().flushdb()
    for epod_id in (1, 2):
        app.send_task("fleet.tasks.epod_render_pdf", args=[epod_id])
    app.send_task("erp_sync.tasks.relay_nudge")

    samples = scrape(client)

    assert value(samples, "oms_broker_up") == 1
    assert by_name(samples, "oms_queue_depth") == {"erp": 1, "files": 2, "default": 0}
    broker().flushdb()


def test_a_broker_outage_reports_down_and_no_depths(client, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_READ_URL", "redis://127.0.0.1:1/0")  # nothing listens on port 1

    samples = scrape(client)

    assert value(samples, "oms_broker_up") == 0
    assert by_name(samples, "oms_queue_depth") == {}
    assert by_name(samples, "oms_outbox_backlog") == {}  # the database part still answers


def test_orders_placed_count_per_channel_after_commit_only(client, world, django_capture_on_commit_callbacks):
    before = scrape(client)
    with django_capture_on_commit_callbacks(execute=True):
        world.place(channel=Channel.KIOSK)
        world.place(channel=Channel.KIOSK)
        world.place(channel=Channel.PHONE)
    with django_capture_on_commit_callbacks(execute=False) as rolled_back:
        world.place(channel=Channel.PHONE)  # never committed: its callback is dropped

    after = scrape(client)

    assert len(rolled_back) >= 1
    for channel, placed in [("kiosk", 2), ("phone", 1), ("web", 0)]:
        delta = value(after, "oms_orders_placed_total", channel=channel) - value(
            before, "oms_orders_placed_total", channel=channel
        )
        assert delta == placed, channel


def test_request_latency_is_labelled_by_route_name_not_path(client):
    labels = {"route": "healthz", "method": "GET", "status": "200"}
    before = scrape(client)

    client.get("/healthz")
    client.get("/track/some-token-1/")
    client.get("/track/some-token-2/")
    client.get("/no-such-page-4711/")
    after = scrape(client)

    def count(**labels):
        name = "oms_http_request_duration_seconds_count"
        return value(after, name, **labels) - value(before, name, **labels)

    assert count(**labels) == 1
    assert count(route="track-page", method="GET", status="404") == 2
    assert count(route="unmatched", method="GET", status="404") == 1
    assert not any("some-token" in str(labels) for _, labels in after)


def test_task_durations_per_task_name(client):
    labels = {"task": "oms.tasks.purge_idempotency_keys", "state": "SUCCESS"}
    before = value(scrape(client), "oms_task_duration_seconds_count", **labels)

    purge_idempotency_keys.apply()
    purge_idempotency_keys.apply()

    assert value(scrape(client), "oms_task_duration_seconds_count", **labels) == before + 2
