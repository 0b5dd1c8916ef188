"""Request-level hardening of the portal: private EPOD downloads, no caching of pages, and rate limits
on every write a customer makes (per user and per order, 429 with Retry-After, nothing written)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from fleet.models import CallRequest, JobStatus, Message
from oms.models import OutboxMessage
from orders.models import Order, OrderEvent, ReturnRequest
from tests.portal.conftest import MINIMAL_PDF, add_job, place, set_status, user_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_a(client, customer_a):
    client.force_login(user_of(customer_a))
    return client


@pytest.fixture
def delivered(customer_a, world):
    order = place(customer_a)
    job = add_job(order, world, ticket="TK-PRIV", status=JobStatus.DELIVERED, with_pdf=True)
    return order, job


def content(response) -> bytes:
    return b"".join(response.streaming_content)


# --- downloads -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "content_type", "filename"),
    [
        ("pdf", MINIMAL_PDF, "application/pdf", "EPOD-TK-PRIV.pdf"),
        ("signature", b"\x89PNG\r\n", "image/png", "EPOD-TK-PRIV-signature.png"),
    ],
)
def test_owner_downloads_the_exact_bytes_privately(client_a, delivered, kind, body, content_type, filename):
    order, job = delivered

    response = client_a.get(reverse("portal:order-epod-file", args=[order.number, job.ticket, kind]))

    assert response.status_code == 200
    assert content(response) == body
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_unknown_file_kind_or_missing_photo_is_404(client_a, delivered):
    order, job = delivered
    for kind in ("photo-1", "photo-0", "..", "sig"):
        url = reverse("portal:order-epod-file", args=[order.number, job.ticket, kind])
        assert client_a.get(url).status_code == 404, kind


def test_another_customer_gets_404(client, delivered, customer_b):
    order, job = delivered
    client.force_login(user_of(customer_b))

    for url in (
        reverse("portal:order-epod", args=[order.number, job.ticket]),
        reverse("portal:order-epod-file", args=[order.number, job.ticket, "signature"]),
    ):
        assert client.get(url).status_code == 404


def test_anonymous_is_sent_to_sign_in(client, delivered):
    order, job = delivered
    url = reverse("portal:order-epod-file", args=[order.number, job.ticket, "pdf"])

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('portal:login')}?next={url}"


# --- caching ---------------------------------------------------------------------------------------


def test_every_portal_page_is_private_and_not_stored(client_a, delivered):
    order, _ = delivered
    for url in (
        reverse("portal:orders"),
        reverse("portal:order", args=[order.number]),
        reverse("portal:order-jobs", args=[order.number]),
        reverse("portal:order-messages", args=[order.number]),
        reverse("portal:account"),
        reverse("portal:sites"),
        reverse("portal:order-new"),
    ):
        assert client_a.get(url)["Cache-Control"] == "private, no-store", url


def test_sign_in_page_and_tracking_page_are_not_stored(client, delivered):
    order, _ = delivered
    login = Client().get(reverse("portal:login"))["Cache-Control"]  # Django's own never_cache
    assert {"private", "no-store"} <= {part.strip() for part in login.split(",")}
    track = client.get(reverse("track-page", args=[order.tracking_token]))
    assert track.status_code == 200
    assert track["Cache-Control"] == "no-store"


# --- rate limits -----------------------------------------------------------------------------------


def written() -> tuple[int, ...]:
    return (
        Message.objects.count(),
        CallRequest.objects.count(),
        ReturnRequest.objects.count(),
        Order.objects.count(),
        OrderEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def post_message(client, order, body="Where is my truck?"):
    return client.post(reverse("portal:order-messages", args=[order.number]), {"body": body})


def test_messages_over_the_per_order_limit_are_429_and_write_nothing(client_a, customer_a, settings):
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 3
    order = place(customer_a)

    statuses = [post_message(client_a, order, f"m{i}").status_code for i in range(3)]
    before = written()
    refused = post_message(client_a, order, "one too many")

    assert statuses == [302, 302, 302]
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert f"Too many requests, try again in {refused['Retry-After']} s." in refused.content.decode()
    assert written() == before
    assert list(Message.objects.filter(order=order).values_list("body", flat=True).order_by("pk")) == [
        "m0",
        "m1",
        "m2",
    ]


def test_another_order_and_another_customer_are_not_affected(client_a, customer_a, customer_b, settings):
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 1
    first, second = place(customer_a), place(customer_a)
    other = Client()
    other.force_login(user_of(customer_b))
    b_order = place(customer_b)

    assert post_message(client_a, first).status_code == 302
    assert post_message(client_a, first).status_code == 429
    assert post_message(client_a, second).status_code == 302
    assert post_message(other, b_order).status_code == 302
    assert Message.objects.count() == 3


def test_the_per_user_limit_spans_orders(client_a, customer_a, settings):
    """A scanner spreading its writes over many orders is stopped by the per-user limit."""
    settings.OMS_WRITES_PER_USER_PER_MINUTE = 4
    orders = [place(customer_a) for _ in range(5)]

    statuses = [
        client_a.post(
            reverse("portal:order-callback", args=[o.number]), {"phone": "+359888123456", "reason": "Call"}
        ).status_code
        for o in orders
    ]

    assert statuses == [302, 302, 302, 302, 429]
    assert CallRequest.objects.count() == 4


def test_reading_is_never_limited(client_a, customer_a, settings):
    settings.OMS_WRITES_PER_USER_PER_MINUTE = settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 1
    order = place(customer_a)
    url = reverse("portal:order-messages", args=[order.number])
    assert [client_a.get(url).status_code for _ in range(5)] == [200] * 5


def test_refusal_is_in_bulgarian_for_a_bulgarian_customer(client_a, customer_a, settings):
    settings.OMS_WRITES_PER_USER_PER_MINUTE = 0
    order = place(customer_a)
    client_a.cookies[settings.LANGUAGE_COOKIE_NAME] = "bg"

    refused = post_message(client_a, order)

    assert refused.status_code == 429
    text = refused.content.decode()
    assert f"Твърде много заявки, опитайте отново след {refused['Retry-After']} сек." in text
    assert Message.objects.count() == 0


def test_htmx_refusal_is_a_message_above_the_form(client_a, customer_a, settings):
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 0
    order = place(customer_a)

    refused = client_a.post(
        reverse("portal:order-messages", args=[order.number]), {"body": "hi"}, HTTP_HX_REQUEST="true"
    )

    assert refused.status_code == 429
    assert (refused["HX-Retarget"], refused["HX-Reswap"]) == ("this", "afterbegin")
    assert refused.content.decode().strip() == (
        f'<p class="error" role="alert">Too many requests, try again in {refused["Retry-After"]} s.</p>'
    )
    assert Message.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("order-cancel", {"reason": "Changed plans"}),
        ("order-return", {"reason": "Too much"}),
        ("order-callback", {"phone": "+359888123456", "reason": "Call"}),
    ],
)
def test_each_order_write_is_limited(client_a, customer_a, settings, name, data):
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 0
    order = place(customer_a)
    set_status(order, "delivered")
    before = written()

    refused = client_a.post(reverse(f"portal:{name}", args=[order.number]), data)

    assert refused.status_code == 429
    assert written() == before


def test_placing_orders_is_limited_per_user(client_a, settings):
    settings.OMS_WRITES_PER_USER_PER_MINUTE = 0
    before = written()

    refused = client_a.post(reverse("portal:order-new"), {"form_token": "tok-1"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert written() == before
