"""Push webhook: signature, unknown/disabled systems, results per message, duplicates."""

import pytest

from erp_sync.models import InboxMessage, SyncRun
from oms.models import ErpSystem
from tests.erp_sync.conftest import SECRET, body_of, envelope, signed_post

PLANT = ("plant", "SOF")


def plant_msg(mid="M-1", version=1, **data):
    return envelope(mid, "master.plant", PLANT, version, {"code": "SOF", "name": "Sofia", **data})


@pytest.mark.django_db
def test_bad_signature_is_401_and_stores_nothing(client, erp_system):
    body = body_of([plant_msg()])

    response = signed_post(client, "ERP1", body, secret="wrong")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert InboxMessage.objects.count() == 0
    assert SyncRun.objects.count() == 0


@pytest.mark.django_db
def test_missing_signature_is_401(client, erp_system):
    response = client.post(
        "/api/v1/erp/ERP1/messages/", data=body_of([plant_msg()]), content_type="application/json"
    )

    assert response.status_code == 401
    assert InboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_unknown_or_disabled_system_is_401(client, erp_system):
    body = body_of([plant_msg()])
    assert signed_post(client, "NOPE", body).status_code == 401
    ErpSystem.objects.filter(pk=erp_system.pk).update(enabled=False)
    assert signed_post(client, "ERP1", body).status_code == 401
    assert InboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_signature_over_a_changed_body_is_401(client, erp_system):
    from erp_sync.signing import sign

    signature = sign(SECRET, body_of([plant_msg()]))
    response = client.post(
        "/api/v1/erp/ERP1/messages/",
        data=body_of([plant_msg(name="Tampered")]),
        content_type="application/json",
        headers={"X-OMS-Signature": signature},
    )

    assert response.status_code == 401
    assert InboxMessage.objects.count() == 0


@pytest.mark.django_db
def test_accepted_then_duplicate(client, erp_system):
    first = signed_post(client, "ERP1", body_of([plant_msg()]))
    second = signed_post(client, "ERP1", body_of([plant_msg(name="Other content, same id")]))

    assert first.status_code == 202
    assert first.json() == {"results": [{"id": "M-1", "status": "accepted"}]}
    assert second.json() == {"results": [{"id": "M-1", "status": "duplicate"}]}
    row = InboxMessage.objects.get()
    assert (row.message_id, row.status, row.source, row.payload["data"]["name"]) == (
        "M-1",
        "received",
        "webhook",
        "Sofia",
    )


@pytest.mark.django_db
def test_duplicate_inside_one_batch(client, erp_system):
    response = signed_post(client, "ERP1", body_of([plant_msg(), plant_msg()]))

    assert [r["status"] for r in response.json()["results"]] == ["accepted", "duplicate"]
    assert InboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_unusable_message_is_rejected_and_recorded_failed(client, erp_system):
    response = signed_post(client, "ERP1", body_of([["not", "an", "object"], plant_msg()]))

    results = response.json()["results"]
    assert results[0] == {"id": None, "status": "rejected", "error": "The message is not a JSON object."}
    assert results[1] == {"id": "M-1", "status": "accepted"}
    failed = InboxMessage.objects.get(status="failed")
    assert failed.message_id.startswith("unusable-")
    assert failed.raw == '["not", "an", "object"]'
    assert failed.payload is None


@pytest.mark.django_db
def test_body_that_is_not_json_is_recorded_failed(client, erp_system):
    response = signed_post(client, "ERP1", b"{not json\x00")

    assert response.status_code == 202
    [result] = response.json()["results"]
    assert result["status"] == "rejected"
    assert result["error"].startswith("The message is not valid JSON")
    row = InboxMessage.objects.get()
    assert (row.status, row.raw) == ("failed", "{not json\\u0000")
