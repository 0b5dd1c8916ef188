"""EPOD: idempotent submission, one per job, evidence validated by content, nothing stored on refusal."""

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from fleet.models import EpodPhoto, ProofOfDelivery
from fleet.selectors import driver_today
from fleet.services import job_assign, order_split_into_jobs, tour_plan, tour_release
from fleet.tasks import epod_render_pdf
from oms.lib.actors import Actor
from oms.models import IdempotencyRecord, OutboxMessage
from orders.models import OrderEvent
from tests.fleet.helpers import image_bytes, job_unloading, upload
from tests.helpers import driver_client

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")


@pytest.fixture
def unloading(order, plant, truck, driver):
    return job_unloading(order, plant=plant, truck=truck, driver=driver)


def form(**overrides):
    data = {
        "received_by": "Site manager",
        "signature": upload("sig.png", image_bytes()),
        "lat": "42.6977",
        "lon": "23.3219",
        "signed_at": (timezone.now() - timedelta(minutes=1)).replace(microsecond=0).isoformat(),
        "lines": json.dumps([{"position": 1, "delivered": "8.000"}]),
    }
    data.update(overrides)
    return data


def post(client, job, data, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(f"/api/v1/driver/jobs/{job.public_id}/epod/", data, format="multipart", **headers)


def media_files() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "epod"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def snapshot():
    return (
        ProofOfDelivery.objects.count(),
        EpodPhoto.objects.count(),
        OutboxMessage.objects.count(),
        OrderEvent.objects.count(),
        IdempotencyRecord.objects.count(),
        len(media_files()),
    )


@pytest.mark.django_db
def test_resubmission_with_the_same_key_returns_the_same_epod(unloading, driver):
    client = driver_client(driver)
    data = form(photos=[upload("a.jpg", image_bytes("JPEG"), "image/jpeg")])
    first = post(client, unloading, data)
    assert first.status_code == 201
    outbox = OutboxMessage.objects.count()
    again = post(
        client, unloading, form(signed_at=data["signed_at"], photos=[upload("a.jpg", image_bytes("JPEG"))])
    )
    assert (again.status_code, again.json(), again.headers["Idempotent-Replayed"]) == (
        201,
        first.json(),
        "true",
    )
    assert ProofOfDelivery.objects.count() == 1
    assert EpodPhoto.objects.count() == 1
    assert OutboxMessage.objects.count() == outbox


@pytest.mark.django_db
def test_second_epod_with_another_key_is_409(unloading, driver):
    client = driver_client(driver)
    assert post(client, unloading, form()).status_code == 201
    before = snapshot()
    response = post(client, unloading, form(), key="k-2")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    # the business 409 is stored for its key; nothing else is written
    assert snapshot() == (*before[:4], before[4] + 1, before[5])


@pytest.mark.django_db
def test_missing_key_is_400(unloading, driver):
    before = snapshot()
    response = post(driver_client(driver), unloading, form(), key=None)
    assert (response.status_code, response.json()["code"]) == (400, "idempotency_key_missing")
    assert snapshot() == before


@pytest.mark.django_db
def test_non_image_signature_is_400_and_nothing_is_stored(unloading, driver):
    before = snapshot()
    response = post(
        driver_client(driver), unloading, form(signature=upload("sig.png", b"%PDF-1.4 not a png"))
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"signature": ["Not a valid PNG image."]}
    assert snapshot() == before
    unloading.refresh_from_db()
    assert unloading.status == "unloading"


@pytest.mark.django_db
def test_jpeg_signature_is_refused(unloading, driver):
    response = post(driver_client(driver), unloading, form(signature=upload("sig.png", image_bytes("JPEG"))))
    assert (response.status_code, response.json()["errors"]) == (
        400,
        {"signature": ["Not a valid PNG image."]},
    )


@pytest.mark.django_db
def test_20mb_photo_is_413_and_nothing_is_stored(unloading, driver):
    before = snapshot()
    big = image_bytes("PNG") + b"\0" * (20 * 1024 * 1024)
    response = post(driver_client(driver), unloading, form(photos=[upload("big.png", big)]))
    assert response.status_code == 413
    assert (response.json()["code"], response.json()["detail"]) == (
        "too_large",
        "The file is larger than 5 MB.",
    )
    assert snapshot() == before


@pytest.mark.django_db
def test_six_photos_are_refused(unloading, driver):
    before = snapshot()
    photos = [upload(f"{i}.png", image_bytes()) for i in range(6)]
    response = post(driver_client(driver), unloading, form(photos=photos))
    assert (response.status_code, response.json()["errors"]) == (400, {"photos": ["At most 5 photos."]})
    assert snapshot() == before


@pytest.mark.django_db
def test_more_than_loaded_is_400(unloading, driver):
    before = snapshot()
    lines = json.dumps([{"position": 1, "delivered": "8.000", "returned": "0.500"}])
    response = post(driver_client(driver), unloading, form(lines=lines))
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "lines": {"0": ["Delivered plus returned exceeds the load (8.000)."]}
    }
    assert snapshot() == before


@pytest.mark.django_db
def test_epod_before_arrival_is_409(order, plant, truck, driver):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    response = post(driver_client(driver), job, form())
    assert (response.status_code, response.json()["code"]) == (409, "invalid_transition")
    assert ProofOfDelivery.objects.count() == 0


@pytest.mark.django_db
def test_pdf_is_rendered_once_and_downloadable(unloading, driver):
    client = driver_client(driver)
    body = post(client, unloading, form()).json()
    epod = ProofOfDelivery.objects.get()
    assert epod_render_pdf(epod.pk) is True
    assert epod_render_pdf(epod.pk) is False
    response = client.get(body["pdf_url"].removeprefix(settings.SITE_URL))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")


@pytest.mark.django_db
def test_epod_is_immutable(unloading, driver):
    post(driver_client(driver), unloading, form())
    epod = ProofOfDelivery.objects.get()
    epod.received_by = "Someone else"
    with pytest.raises(ValueError, match="immutable"):
        epod.save()


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "labels"),
    [
        ("en", ["Delivery ticket", "Received by", "Remarks", "Signature"]),
        ("bg", ["Товарителница", "Получил", "Забележки", "Подпис"]),
    ],
)
def test_pdf_is_written_in_the_customers_language_with_cyrillic_kept(unloading, driver, language, labels):
    """The core PDF fonts are Latin-1: a Bulgarian name or remark would print as question marks."""
    unloading.order.customer.language = language
    unloading.order.customer.save(update_fields=["language"])
    post(driver_client(driver), unloading, form(received_by="Иван Петров", remarks="Бетонът е положен"))
    epod = ProofOfDelivery.objects.get()
    assert epod_render_pdf(epod.pk) is True
    epod.refresh_from_db()
    with epod.pdf.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Иван Петров" in text
    assert "Бетонът е положен" in text
    assert "?" not in text
    assert [label in text for label in labels] == [True] * len(labels)
    assert unloading.ticket in text
