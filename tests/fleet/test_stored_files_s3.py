"""EPOD files in an S3-compatible bucket (`OMS_STORAGE=s3`), end to end over real HTTP.

The driver API stores the evidence in the bucket, the PDF task reads the signature from there and
writes the PDF there, and the portal and the console answer a permitted download with a redirect to
a short-lived presigned link that the object store serves; nothing ever touches the local disk.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone
from storages.backends.s3 import S3Storage

from customers.models import PortalAccess
from fleet.models import EpodPhoto, ProofOfDelivery
from fleet.services.epod import epod_file_stem
from fleet.tasks import epod_render_pdf
from oms import roles
from oms.models import IdempotencyRecord, OutboxMessage
from orders.models import OrderEvent
from tests.console.conftest import client_for, make_user
from tests.erp_sync.conftest import CeleryProcess, broker, wait_until
from tests.erp_sync.conftest import test_database_url as database_url
from tests.fleet.helpers import image_bytes, upload
from tests.fleet.test_epod import form, post, unloading  # noqa: F401 - the fixture
from tests.helpers import driver_client

SIGNATURE = image_bytes(color=(10, 20, 30))
PHOTO = image_bytes("JPEG", color=(200, 100, 0))


def submit(driver, job, *, key: str = "k-s3"):
    data = form(signature=upload("sig.png", SIGNATURE), photos=[upload("a.jpg", PHOTO, "image/jpeg")])
    return post(driver_client(driver), job, data, key=key)


def month_folder() -> str:
    return f"{timezone.now():%Y/%m}"


def expected_keys(job) -> list[str]:
    stem = epod_file_stem(job)
    return [
        f"epod/photos/{month_folder()}/{stem}-photo-1.jpg",
        f"epod/signatures/{month_folder()}/{stem}-signature.png",
    ]


def state():
    """What a refused or failed EPOD must leave as it was (besides the bucket)."""
    return (
        ProofOfDelivery.objects.count(),
        EpodPhoto.objects.count(),
        OutboxMessage.objects.count(),
        OrderEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def portal_client(customer):
    user = get_user_model().objects.create_user(username="site@example.com", password="pw-portal-1234567")
    PortalAccess.objects.create(customer=customer, user=user)
    return client_for(user)


def fetch(url: str) -> httpx.Response:
    """What a browser following the redirect gets: a plain GET, no credentials of ours."""
    return httpx.get(url, timeout=10)


@pytest.mark.django_db
def test_driver_upload_stores_the_evidence_in_the_bucket_and_nothing_on_disk(
    s3_storage,
    unloading,  # noqa: F811
    driver,
):
    response = submit(driver, unloading)

    assert response.status_code == 201
    epod = ProofOfDelivery.objects.get()
    assert isinstance(epod.signature.storage._wrapped, S3Storage)
    assert s3_storage.keys() == expected_keys(unloading)
    signature_key, photo_key = expected_keys(unloading)[1], expected_keys(unloading)[0]
    assert epod.signature.name == signature_key
    assert epod.photos.get().image.name == photo_key
    assert s3_storage.read(signature_key) == SIGNATURE
    assert s3_storage.read(photo_key) == PHOTO
    assert s3_storage.local_files() == []


@pytest.mark.django_db
def test_the_pdf_task_reads_the_signature_from_the_bucket_and_writes_the_pdf_there(
    s3_storage,
    unloading,  # noqa: F811
    driver,
):
    assert submit(driver, unloading).status_code == 201
    epod = ProofOfDelivery.objects.get()

    assert epod_render_pdf.apply(args=[epod.pk]).get() is True
    assert epod_render_pdf.apply(args=[epod.pk]).get() is False  # once

    epod.refresh_from_db()
    pdf_key = f"epod/pdf/{epod_file_stem(unloading)}.pdf"
    assert epod.pdf.name == pdf_key
    assert s3_storage.keys("epod/pdf/") == [pdf_key]
    pdf = s3_storage.read(pdf_key)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000
    assert s3_storage.local_files() == []


@pytest.mark.django_db
def test_portal_and_console_redirect_to_a_presigned_link_with_the_exact_bytes(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    customer,
):
    assert submit(driver, unloading).status_code == 201
    epod = ProofOfDelivery.objects.get()
    epod_render_pdf.apply(args=[epod.pk])
    pdf = s3_storage.read(f"epod/pdf/{epod_file_stem(unloading)}.pdf")
    order = unloading.order
    rep = client_for(make_user(roles.REP, "rita"))
    downloads = [
        (
            portal_client(customer),
            reverse("portal:order-epod", args=[order.number, unloading.ticket]),
            pdf,
            "application/pdf",
            f"EPOD-{unloading.ticket}.pdf",
        ),
        (
            rep,  # the console: a rep, who may view orders
            reverse("admin:console-epod-file", args=[unloading.pk, "signature"]),
            SIGNATURE,
            "image/png",
            f"EPOD-{unloading.ticket}-signature.png",
        ),
        (
            rep,
            reverse("admin:console-epod-file", args=[unloading.pk, "photo-1"]),
            PHOTO,
            "image/jpeg",
            f"EPOD-{unloading.ticket}-photo-1.jpg",
        ),
    ]
    for client, url, body, content_type, filename in downloads:
        response = client.get(url)

        assert response.status_code == 302, url
        assert {"private", "no-store"} <= {d.strip() for d in response["Cache-Control"].split(",")}
        link = response["Location"]
        assert link.startswith(f"{s3_storage.store.endpoint_url}/{s3_storage.name}/epod/")
        query = parse_qs(urlsplit(link).query)
        assert query["X-Amz-Expires"] == ["60"]
        assert query["response-content-type"] == [content_type]
        assert query["response-content-disposition"] == [f'attachment; filename="{filename}"']
        fetched = fetch(link)
        assert fetched.status_code == 200
        assert fetched.content == body
        assert fetched.headers["content-type"] == content_type
        assert fetched.headers["content-disposition"] == f'attachment; filename="{filename}"'


@pytest.mark.django_db
def test_a_download_link_expires_after_the_configured_seconds(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    settings,
):
    assert submit(driver, unloading).status_code == 201
    settings.OMS_S3_SIGNED_URL_SECONDS = 1
    rep = client_for(make_user(roles.REP, "rita"))

    link = rep.get(reverse("admin:console-epod-file", args=[unloading.pk, "signature"]))["Location"]

    assert parse_qs(urlsplit(link).query)["X-Amz-Expires"] == ["1"]
    assert fetch(link).content == SIGNATURE
    time.sleep(2.2)
    expired = fetch(link)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content


@pytest.mark.django_db
def test_the_bucket_is_private_without_a_signed_link(
    s3_storage,
    unloading,  # noqa: F811
    driver,
):
    assert submit(driver, unloading).status_code == 201
    key = expected_keys(unloading)[1]

    assert fetch(f"{s3_storage.store.endpoint_url}/{s3_storage.name}/{key}").status_code == 403


@pytest.mark.django_db
def test_people_who_may_not_see_the_epod_get_no_link(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    customer_factory,
    client,
):
    assert submit(driver, unloading).status_code == 201
    order = unloading.order
    other = customer_factory()
    refusals = [
        (
            portal_client(other),
            reverse("portal:order-epod-file", args=[order.number, unloading.ticket, "signature"]),
            404,
        ),
        (
            client_for(make_user(None, "nobody")),
            reverse("admin:console-epod-file", args=[unloading.pk, "signature"]),
            403,
        ),
    ]
    for who, url, status in refusals:
        response = who.get(url)

        assert response.status_code == status, url
        assert s3_storage.name not in response.get("Location", "")
        assert s3_storage.name.encode() not in response.content
    anonymous = client.get(reverse("admin:console-epod-file", args=[unloading.pk, "signature"]))
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))


@pytest.mark.django_db
def test_a_file_no_longer_in_the_bucket_is_404_not_a_dead_link(
    s3_storage,
    unloading,  # noqa: F811
    driver,
):
    assert submit(driver, unloading).status_code == 201
    s3_storage.store.client().delete_object(Bucket=s3_storage.name, Key=expected_keys(unloading)[0])
    rep = client_for(make_user(roles.REP, "rita"))

    assert rep.get(reverse("admin:console-epod-file", args=[unloading.pk, "photo-1"])).status_code == 404


@pytest.mark.django_db
def test_a_storage_failure_midway_leaves_no_row_and_no_object(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    monkeypatch,
):
    """The signature is stored, then the bucket refuses the photo: the signature object goes too."""
    before = state()
    real_save = S3Storage._save

    def refuse_photos(self, name, content):
        if "/photos/" in name:
            raise OSError("the object store refused the upload")
        return real_save(self, name, content)

    monkeypatch.setattr(S3Storage, "_save", refuse_photos)

    with pytest.raises(OSError, match="refused the upload"):
        submit(driver, unloading)

    assert state() == before
    assert s3_storage.keys() == []


@pytest.mark.django_db
def test_a_database_failure_after_the_upload_leaves_no_row_and_no_object(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    monkeypatch,
):
    """Every file is in the bucket, then storing the idempotent response fails: all is rolled back."""
    from oms.lib import idempotency

    before = state()
    real_store = idempotency._store_response

    def fail(*args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(idempotency, "_store_response", fail)

    with pytest.raises(DatabaseError):
        submit(driver, unloading)

    assert state() == before
    assert s3_storage.keys() == []
    monkeypatch.setattr(idempotency, "_store_response", real_store)
    assert submit(driver, unloading).status_code == 201  # the retry with the same key stores it all
    assert s3_storage.keys() == expected_keys(unloading)


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_renders_the_pdf_from_the_bucket(
    s3_storage,
    unloading,  # noqa: F811
    driver,
    tmp_path,
):
    """The web side stores the EPOD; a separate Celery worker process (configured only through the
    environment, as on another host) reads the signature from the bucket and writes the PDF there."""
    import os

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DB_CONN_MAX_AGE": "0",
        "OMS_VAR_DIR": str(tmp_path / "worker-var"),
        **s3_storage.env(),
    }
    broker().flushdb()  # stale tasks of earlier tests would only add noise
    worker = CeleryProcess("worker-files", tmp_path, env).start()
    try:
        assert submit(driver, unloading).status_code == 201  # the commit queues the PDF task

        epod = wait_until(
            lambda: ProofOfDelivery.objects.exclude(pdf="").first(), timeout=60, message="the PDF"
        )
    finally:
        worker.stop()

    pdf_key = f"epod/pdf/{epod_file_stem(unloading)}.pdf"
    assert epod.pdf.name == pdf_key
    assert s3_storage.keys() == sorted([*expected_keys(unloading), pdf_key])
    assert s3_storage.read(pdf_key).startswith(b"%PDF-")
    assert s3_storage.local_files() == []
    assert not (tmp_path / "worker-var" / "media").exists()
