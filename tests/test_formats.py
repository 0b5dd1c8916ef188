"""Dates and times as each language writes them: in Bulgarian day.month.year and the 24-hour clock,
on the portal, the tracking page, the console and in the EPOD PDF (times in the Sofia zone)."""

from __future__ import annotations

import io
import logging
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from fleet.models import Job, JobStatus, ProofOfDelivery, Tour
from fleet.pdf import render_epod_pdf
from oms import roles
from orders.models import Order, OrderEvent
from tests.console.conftest import client_for, make_user
from tests.fleet.helpers import image_bytes
from tests.portal.conftest import make_customer, place, user_of

# 15:46 UTC is 17:46 in Sofia (EET, UTC+2, in December).
MOMENT = datetime(2026, 12, 7, 15, 46, tzinfo=UTC)
DAY = date(2026, 12, 7)


@pytest.fixture
def customer(world):
    return make_customer("Alpha Build", "alpha@example.com")


@pytest.fixture
def order(customer, world) -> Order:
    """An order requested for 7 December 2026 whose events happened at 17:46 Sofia time, with a job
    on its way (ETA 17:46) and a signed EPOD (signed 17:46)."""
    order = place(customer, sku="GRAVEL", quantity="5")
    Order.objects.filter(pk=order.pk).update(requested_date=DAY)
    OrderEvent.objects.filter(order=order).update(at=MOMENT)
    tour = Tour.objects.create(number="TOUR-1", date=DAY, plant=world.plant, truck=world.truck)
    job = Job.objects.create(
        order=order, plant=world.plant, tour=tour, ticket="TK-1", status=JobStatus.EN_ROUTE, eta=MOMENT
    )
    Job.objects.create(
        order=order,
        plant=world.plant,
        tour=tour,
        ticket="TK-0",
        status=JobStatus.DELIVERED,
        loaded_at=MOMENT - timedelta(hours=1),
        delivered_at=MOMENT,
    )
    epod = ProofOfDelivery(job=job, received_by="Site manager", signed_at=MOMENT, sha256="0" * 64)
    epod.signature.save("sig.png", ContentFile(image_bytes()), save=False)
    epod.save(force_insert=True)
    order.refresh_from_db()
    return order


def in_bulgarian(client: Client) -> Client:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "bg"
    return client


def text_of(response) -> str:
    """The page's text with tags and runs of white space collapsed to one space."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_portal_order_page_in_bulgarian(order, customer):
    client = Client()
    client.force_login(user_of(customer))
    page = text_of(in_bulgarian(client).get(f"/portal/orders/{order.number}/"))
    assert "Заявена дата 7 Декември 2026 г." in page
    assert "TK-1 На път Очаквано пристигане 17:46 Камион TRK-01" in page
    assert "Доставено в 07.12.2026 17:46" in page
    assert "Хронология 07.12.2026 17:46 Поръчката е направена" in page


def test_portal_order_list_in_bulgarian(order, customer):
    client = Client()
    client.force_login(user_of(customer))
    page = text_of(in_bulgarian(client).get("/portal/"))
    assert f"{order.number} Уеб портал Направена 07.12.2026 Alpha Build site" in page


def test_tracking_page_in_bulgarian(order):
    page = text_of(in_bulgarian(Client()).get(f"/track/{order.tracking_token}/"))
    assert "Заявена дата 7 Декември 2026 г. TK-1 На път Очаквано пристигане 17:46" in page


def test_bulgarian_date_fields_keep_the_iso_dates_the_browser_needs(customer):
    client = Client()
    client.force_login(user_of(customer))
    page = in_bulgarian(client).get("/portal/orders/new/").content.decode()
    today = timezone.localdate(timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE))  # the portal's day
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert f'<input type="date" name="requested_date" value="{tomorrow}"' in page


def test_english_keeps_the_english_formats(order, customer):
    client = Client()
    client.force_login(user_of(customer))
    page = text_of(client.get(f"/portal/orders/{order.number}/"))
    assert "Requested date Dec. 7, 2026" in page
    assert "TK-1 En route ETA 5:46 p.m." in page
    assert "Timeline 12/07/2026 5:46 p.m. Order placed" in page


def test_console_order_page_and_dispatch_board_in_bulgarian(order, world):
    """Staff see times in the display time zone (Sofia), as customers do."""
    client = in_bulgarian(client_for(make_user(roles.DISPATCHER, "dan")))
    page = text_of(client.get(f"/admin/console/orders/{order.pk}/"))
    assert "Заявена 7 Декември 2026 г." in page
    assert "Синхронизация с ERP 07.12.2026 17:46 order.placed" in page
    assert "TK-1 · Доставка · На път · TRK-01 · Очаквано пристигане 17:46" in page
    assert "ЕДД: Site manager · 07.12.2026 17:46" in page
    board = text_of(client.get("/admin/console/dispatch/?date=2026-12-07"))
    assert f"TK-1 · Доставка · На път · {order.number} · Очаквано пристигане 17:46" in board
    assert f"{order.number} Alpha Build 07.12.2026 SOF 5" in board


def pdf_text(content: bytes) -> str:
    """The text of a PDF as a reader extracts it (the font is embedded: no plain-text operands)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_epod_pdf_writes_times_in_the_customers_language(order):
    epod = ProofOfDelivery.objects.select_related("job__order__customer", "job__plant", "job__tour").get()
    epod.job.order.customer.language = "bg"
    assert "Подписано 07.12.2026 17:46" in pdf_text(render_epod_pdf(epod))
    epod.job.order.customer.language = "en"
    assert "Signed 12/07/2026 5:46 p.m." in pdf_text(render_epod_pdf(epod))


def test_rendering_a_pdf_logs_nothing_at_info(order, caplog):
    """fpdf2 subsets the embedded font through fontTools, which logs each table it touches at INFO."""
    epod = ProofOfDelivery.objects.select_related("job__order__customer", "job__plant", "job__tour").get()
    with caplog.at_level(logging.INFO):
        assert render_epod_pdf(epod).startswith(b"%PDF")
    assert [record.name for record in caplog.records if record.name.startswith("fontTools")] == []
