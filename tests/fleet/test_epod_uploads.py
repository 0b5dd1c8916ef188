"""EPOD uploads are refused at 5 MB per file while they arrive: never spooled to disk, nothing stored."""

from __future__ import annotations

import pytest
from django.core.files import uploadhandler
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from fleet.models import ProofOfDelivery
from tests.fleet.helpers import image_bytes, upload
from tests.fleet.test_epod import form, snapshot, unloading  # noqa: F401 - the fixture
from tests.helpers import driver_client

MB = 1024 * 1024


def epod_url(job) -> str:
    return f"/api/v1/driver/jobs/{job.public_id}/epod/"


def raw_post(client, job, body: bytes, *, content_length: int):
    """The multipart `body` sent with the `Content-Length` we choose (true or not)."""
    return client.generic(
        "POST",
        epod_url(job),
        body,
        content_type=MULTIPART_CONTENT,
        HTTP_IDEMPOTENCY_KEY="k-big",
        CONTENT_LENGTH=str(content_length),
    )


@pytest.fixture
def spooled(monkeypatch) -> list[str]:
    """The names of the uploads Django spools to a temporary file (its disk handler's file class)."""
    names: list[str] = []

    class Recording(uploadhandler.TemporaryUploadedFile):
        def __init__(self, name, *args, **kwargs):
            names.append(name)
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(uploadhandler, "TemporaryUploadedFile", Recording)
    return names


@pytest.mark.django_db
def test_6mb_signature_is_413_problem_and_never_spooled(unloading, driver, spooled):  # noqa: F811
    before = snapshot()
    big = image_bytes() + b"\0" * (6 * MB)

    response = driver_client(driver).post(
        epod_url(unloading),
        form(signature=upload("sig.png", big)),
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json() == {
        "type": "https://oms.example/problems/too-large",
        "title": "Body too large",
        "status": 413,
        "code": "too_large",
        "detail": "The file is larger than 5 MB.",
    }
    assert snapshot() == before
    assert spooled == []


@pytest.mark.django_db
def test_body_declared_over_the_limit_is_413_before_it_is_read(unloading, driver):  # noqa: F811
    before = snapshot()
    body = encode_multipart(BOUNDARY, form())

    response = raw_post(driver_client(driver), unloading, body, content_length=32 * MB)

    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    assert snapshot() == before


@pytest.mark.django_db
def test_body_lying_about_its_length_stores_nothing(unloading, driver):  # noqa: F811
    """A 6 MB signature sent with `Content-Length: 1 MB`: only the declared bytes are read, the cut
    form is invalid, nothing is stored."""
    before = snapshot()
    big = image_bytes() + b"\0" * (6 * MB)
    body = encode_multipart(BOUNDARY, form(signature=upload("sig.png", big)))

    response = raw_post(driver_client(driver), unloading, body, content_length=MB)

    assert response.status_code == 400
    assert snapshot() == before
    assert ProofOfDelivery.objects.count() == 0


@pytest.mark.django_db
def test_five_photos_of_almost_5mb_each_are_accepted(unloading, driver):  # noqa: F811
    photo = image_bytes() + b"\0" * (5 * MB - 1024)
    photos = [upload(f"{i}.png", photo) for i in range(5)]

    response = driver_client(driver).post(
        epod_url(unloading),
        form(signature=upload("sig.png", photo), photos=photos),
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="k-ok",
    )

    assert response.status_code == 201
    assert ProofOfDelivery.objects.get().photos.count() == 5
