"""The sync monitor in the admin: pages render, dead messages replay, failed inbox rows re-apply."""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction

from erp_sync.inbound import inbox_store_batch
from erp_sync.models import InboxMessage
from oms.models import OutboxMessage
from oms.outbox import outbox_enqueue
from tests.erp_sync.conftest import envelope

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


def test_monitor_pages_render_with_backlog_dead_and_failures(admin_client, erp_system):
    with transaction.atomic():
        message = outbox_enqueue(
            type="order.created", aggregate_type="order", aggregate_id="ORD-1", payload={}
        )
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead", last_error="rejected: no such customer")
    inbox_store_batch(system=erp_system, messages=["garbage"], source="pull")

    listing = admin_client.get("/admin/oms/erpsystem/")
    detail = admin_client.get(f"/admin/oms/erpsystem/{erp_system.pk}/change/")

    assert listing.status_code == 200 and detail.status_code == 200
    assert b"rejected: no such customer" in detail.content
    assert b"The message is not a JSON object." in detail.content
    for page in ("oms/outboxmessage", "erp_sync/inboxmessage", "erp_sync/syncrun", "oms/externalref"):
        assert admin_client.get(f"/admin/{page}/").status_code == 200


def test_replay_action_puts_dead_messages_back(admin_client, erp_system):
    with transaction.atomic():
        message = outbox_enqueue(
            type="order.created", aggregate_type="order", aggregate_id="ORD-1", payload={}
        )
    OutboxMessage.objects.filter(pk=message.pk).update(status="dead")

    response = admin_client.post(
        "/admin/oms/outboxmessage/", {"action": "replay", "_selected_action": [str(message.pk)]}
    )

    assert response.status_code == 302
    assert OutboxMessage.objects.get(pk=message.pk).status == "pending"


def test_reapply_action_requeues_failed_messages(admin_client, erp_system):
    msg = envelope("T-1", "master.truck", ("truck", "TR-1"), 1, {"code": "TR-1", "plant": "NOPE"})
    inbox_store_batch(system=erp_system, messages=[msg], source="pull")
    row = InboxMessage.objects.get()
    InboxMessage.objects.filter(pk=row.pk).update(status="failed", error="Unknown plant 'NOPE'.")

    admin_client.post("/admin/erp_sync/inboxmessage/", {"action": "reapply", "_selected_action": [row.pk]})

    row.refresh_from_db()
    assert (row.status, row.error) == ("received", "")
