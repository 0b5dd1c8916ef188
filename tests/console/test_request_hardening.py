"""Request-level hardening of the console: EPOD files and exports only through permission-checked
views, no caching of staff pages, and rate limits on the writes a person makes."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from console import services as console_services
from fleet.models import EpodPhoto, Job, JobStatus, Message, ProofOfDelivery
from oms.models import OutboxMessage
from orders.models import OrderEvent
from tests.console.conftest import client_for, make_user

PDF = b"%PDF-1.4 console test\n%%EOF\n"
SIGNATURE = b"\x89PNG\r\n\x1a\nsignature"
PHOTO = b"\xff\xd8\xff\xe0photo"


@pytest.fixture
def epod_job(world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    order = world.place(quantity="5")
    job = Job.objects.create(plant=world.plant, order=order, ticket="TK-CON-1", status=JobStatus.DELIVERED)
    epod = ProofOfDelivery(job=job, received_by="Site manager", signed_at=timezone.now(), sha256="0" * 64)
    epod.signature.save("sig.png", ContentFile(SIGNATURE), save=False)
    epod.pdf.save("TK-CON-1.pdf", ContentFile(PDF), save=False)
    epod.save(force_insert=True)
    photo = EpodPhoto(epod=epod, sha256="1" * 64)
    photo.image.save("p.jpg", ContentFile(PHOTO), save=False)
    photo.save()
    return job


def private_no_store(response) -> bool:
    """`private` and `no-store` among the directives (the admin adds its own `never_cache` ones)."""
    return {"private", "no-store"} <= {part.strip() for part in response["Cache-Control"].split(",")}


def epod_url(job, kind: str) -> str:
    return reverse("admin:console-epod-file", args=[job.pk, kind])


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "filename"),
    [
        ("pdf", PDF, "application/pdf", "EPOD-TK-CON-1.pdf"),
        ("signature", SIGNATURE, "image/png", "EPOD-TK-CON-1-signature.png"),
        ("photo-1", PHOTO, "image/jpeg", "EPOD-TK-CON-1-photo-1.jpg"),
    ],
)
def test_staff_who_may_view_orders_get_the_exact_bytes(
    epod_job, rep_client, kind, body, content_type, filename
):
    response = rep_client.get(epod_url(epod_job, kind))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == body
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert private_no_store(response)
    assert response["X-Content-Type-Options"] == "nosniff"


def test_staff_without_the_permission_get_403(epod_job):
    response = client_for(make_user(None, "nobody", staff=True)).get(epod_url(epod_job, "pdf"))
    assert response.status_code == 403


def test_anonymous_and_customers_are_sent_to_the_staff_sign_in(epod_job, client, customer_user):
    url = epod_url(epod_job, "pdf")
    for who in (client, client_for(customer_user)):
        response = who.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_missing_photo_or_unknown_kind_is_404(epod_job, rep_client):
    assert rep_client.get(epod_url(epod_job, "photo-2")).status_code == 404
    assert rep_client.get(epod_url(epod_job, "source")).status_code == 404


def test_order_page_links_the_evidence_through_the_console(epod_job, rep_client):
    html = rep_client.get(reverse("admin:console-order", args=[epod_job.order_id])).content.decode()

    for kind in ("pdf", "signature", "photo-1"):
        assert f'href="{epod_url(epod_job, kind)}"' in html
    assert "/media/" not in html


def test_staff_pages_are_private_and_not_stored(world, rep_client):
    order = world.place()
    for url in (
        reverse("admin:console-index"),
        reverse("admin:console-order", args=[order.pk]),
        reverse("admin:console-exports"),
        reverse("admin:index"),
        reverse("admin:orders_order_changelist"),
    ):
        assert private_no_store(rep_client.get(url)), url


def test_small_export_is_not_stored_by_caches(world, rep_client):
    world.place()
    response = rep_client.get(reverse("admin:console-export-orders"))
    assert response.status_code == 200
    assert private_no_store(response)


def test_prepared_export_is_read_through_the_storage_by_its_owner_only(
    world, rep, rep_client, admin_user, settings, tmp_path
):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    world.place()
    name = console_services.export_new_name()
    stored = console_services.order_export_write(user_id=rep.pk, name=name, filters={})
    expected = default_storage.open(stored).read()

    listing = rep_client.get(reverse("admin:console-exports")).context["files"]
    download = rep_client.get(reverse("admin:console-export-download", args=[name]))
    other = client_for(admin_user).get(reverse("admin:console-export-download", args=[name]))

    assert [(f["name"], f["ready"], f["size"]) for f in listing] == [(name, True, len(expected))]
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == expected
    assert expected.decode().splitlines()[0].startswith("number,")
    assert download["Content-Disposition"] == f'attachment; filename="{name}"'
    assert private_no_store(download) and download["X-Content-Type-Options"] == "nosniff"
    assert other.status_code == 404
    for bad in ("..", "x.csv", name.replace(".csv", ".txt")):
        assert rep_client.get(reverse("admin:console-export-download", args=[bad])).status_code == 404


def test_messages_over_the_limit_are_429_and_write_nothing(world, rep_client, settings):
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 2
    order, other = world.place(), world.place()
    url = reverse("admin:console-order-message", args=[order.pk])

    statuses = [rep_client.post(url, {"to": "customer", "body": f"m{i}"}).status_code for i in range(2)]
    before = (Message.objects.count(), OrderEvent.objects.count(), OutboxMessage.objects.count())
    refused = rep_client.post(url, {"to": "customer", "body": "one too many"})

    assert statuses == [302, 302]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert f"Too many requests, try again in {refused['Retry-After']} s." in refused.content.decode()
    assert (Message.objects.count(), OrderEvent.objects.count(), OutboxMessage.objects.count()) == before
    other_url = reverse("admin:console-order-message", args=[other.pk])
    assert rep_client.post(other_url, {"to": "customer", "body": "other order"}).status_code == 302
    assert list(Message.objects.order_by("pk").values_list("body", flat=True)) == ["m0", "m1", "other order"]


def test_the_limit_is_per_person(world, rep_client, admin_user, settings):
    settings.OMS_WRITES_PER_USER_PER_MINUTE = 1
    order = world.place()
    url = reverse("admin:console-order-cancel", args=[order.pk])

    assert (
        rep_client.post(
            reverse("admin:console-order-message", args=[order.pk]), {"to": "customer", "body": "x"}
        ).status_code
        == 302
    )
    assert rep_client.post(url, {"reason": "Customer asked"}).status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled"
    second = world.place()
    assert (
        rep_client.post(
            reverse("admin:console-order-cancel", args=[second.pk]), {"reason": "Again"}
        ).status_code
        == 429
    )
    second.refresh_from_db()
    assert second.status != "cancelled"
    assert (
        client_for(admin_user)
        .post(reverse("admin:console-order-cancel", args=[second.pk]), {"reason": "Admin"})
        .status_code
        == 302
    )
