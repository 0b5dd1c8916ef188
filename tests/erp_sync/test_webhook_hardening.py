"""Push webhook hardening: the system and headers are checked before the body is read, the body is
capped, and an optional signed timestamp stops replays outside its tolerance."""

from __future__ import annotations

import io
import time

import pytest

from erp_sync.models import InboxMessage, SyncRun
from erp_sync.signing import sign
from tests.erp_sync.conftest import SECRET, body_of, envelope

URL = "/api/v1/erp/{code}/messages/"


class CountingInput(io.BytesIO):
    """`wsgi.input` that counts the bytes the application read from it."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        chunk = super().readline(size)
        self.bytes_read += len(chunk)
        return chunk


def push(client, body: bytes, *, code="ERP1", signature=None, timestamp=None, content_length=None):
    """POST `body` through a counting input; returns the response and the input."""
    stream = CountingInput(body)
    if signature is None:
        signature = sign(SECRET, body) if timestamp is None else sign(SECRET, body, timestamp)
    headers = {"HTTP_X_OMS_SIGNATURE": signature}
    if timestamp is not None:
        headers["HTTP_X_OMS_TIMESTAMP"] = timestamp
    response = client.generic(
        "POST",
        URL.format(code=code),
        b"",
        content_type="application/json",
        **headers,
        **{
            "wsgi.input": stream,
            "CONTENT_LENGTH": str(len(body) if content_length is None else content_length),
        },
    )
    return response, stream


def plant_body(mid="M-1", pad=0) -> bytes:
    return body_of(
        [envelope(mid, "master.plant", ("plant", "SOF"), 1, {"code": "SOF", "name": "S" * (1 + pad)})]
    )


def nothing_stored() -> bool:
    return InboxMessage.objects.count() == 0 and SyncRun.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "signature"),
    [("NOPE", None), ("ERP1", "sha256=not-hex"), ("ERP1", ""), ("ERP1", "md5=" + "0" * 64)],
    ids=["unknown system", "malformed signature", "empty signature", "other algorithm"],
)
def test_refused_before_the_body_is_read(client, erp_system, code, signature):
    response, stream = push(client, plant_body(), code=code, signature=signature)

    assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert stream.bytes_read == 0
    assert nothing_stored()


@pytest.mark.django_db
def test_declared_size_over_the_limit_is_413_before_reading(client, erp_system, settings):
    settings.OMS_ERP_WEBHOOK_MAX_BYTES = 1000
    body = plant_body(pad=1500)

    response, stream = push(client, body)

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == "The body exceeds 1000 bytes."
    assert stream.bytes_read == 0
    assert nothing_stored()


@pytest.mark.django_db
def test_a_body_larger_than_its_content_length_is_read_only_up_to_the_limit(client, erp_system, settings):
    settings.OMS_ERP_WEBHOOK_MAX_BYTES = 1000
    body = plant_body(pad=5000)

    response, stream = push(client, body, content_length=1000)

    assert response.status_code == 401  # the signature covers the whole body, not the part read
    assert stream.bytes_read <= 1000
    assert nothing_stored()


@pytest.mark.django_db
def test_body_at_the_limit_is_accepted(client, erp_system, settings):
    body = plant_body()
    settings.OMS_ERP_WEBHOOK_MAX_BYTES = len(body)

    response, _ = push(client, body)

    assert response.json() == {"results": [{"id": "M-1", "status": "accepted"}]}


@pytest.mark.django_db
def test_timestamp_is_part_of_the_signed_string(client, erp_system):
    now = str(int(time.time()))

    response, _ = push(client, plant_body(), timestamp=now)

    assert response.status_code == 202
    assert response.json() == {"results": [{"id": "M-1", "status": "accepted"}]}
    assert InboxMessage.objects.get().message_id == "M-1"


@pytest.mark.django_db
def test_timestamp_with_a_signature_over_the_body_alone_is_401(client, erp_system):
    body = plant_body()

    response, _ = push(client, body, timestamp=str(int(time.time())), signature=sign(SECRET, body))

    assert response.status_code == 401
    assert nothing_stored()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "timestamp",
    [-302, +302, "yesterday", "", "-5"],
    ids=["too old", "too far ahead", "not a number", "empty", "negative"],
)
def test_timestamp_outside_the_tolerance_or_malformed_is_401_before_reading(client, erp_system, timestamp):
    if isinstance(timestamp, int):  # seconds from now
        timestamp = str(int(time.time()) + timestamp)

    response, stream = push(client, plant_body(), timestamp=timestamp)

    assert response.status_code == 401
    assert response.json()["detail"] == (
        "X-OMS-Timestamp is missing, malformed or outside the allowed clock difference."
    )
    assert stream.bytes_read == 0
    assert nothing_stored()


@pytest.mark.django_db
def test_a_system_that_must_send_a_timestamp_is_refused_without_one(client, erp_system, settings):
    settings.OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP = ["ERP1"]

    without, _ = push(client, plant_body("M-1"))
    with_it, _ = push(client, plant_body("M-2"), timestamp=str(int(time.time())))

    assert without.status_code == 401
    assert with_it.json() == {"results": [{"id": "M-2", "status": "accepted"}]}
    assert list(InboxMessage.objects.values_list("message_id", flat=True)) == ["M-2"]


@pytest.mark.django_db
def test_star_requires_a_timestamp_of_every_system(client, erp_system, settings):
    settings.OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP = ["*"]

    response, _ = push(client, plant_body())

    assert response.status_code == 401
    assert nothing_stored()


@pytest.mark.django_db
def test_a_replay_inside_the_window_changes_nothing(client, erp_system):
    """The same signed request twice: message ids are kept for good, so the replay is all duplicates."""
    now = str(int(time.time()))
    body = plant_body()

    first, _ = push(client, body, timestamp=now)
    replay, _ = push(client, body, timestamp=now)

    assert first.json() == {"results": [{"id": "M-1", "status": "accepted"}]}
    assert replay.json() == {"results": [{"id": "M-1", "status": "duplicate"}]}
    assert InboxMessage.objects.count() == 1
