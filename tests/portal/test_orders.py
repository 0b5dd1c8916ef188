"""My orders, order detail, actions and the public tracking page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from catalog.models import Product, StockLevel
from customers.models import Site
from fleet.models import CallRequest, JobStatus, Message
from orders.models import CallOff, Channel, Order, OrderEvent, OrderStatus, ReturnRequest
from tests.portal.conftest import MINIMAL_PDF, add_job, place, set_status, user_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_a(client, customer_a):
    client.force_login(user_of(customer_a))
    return client


def test_list_shows_orders_from_every_channel(client_a, a_orders):
    response = client_a.get(reverse("portal:orders"))
    assert response.status_code == 200
    html = response.content.decode()
    for channel, order in a_orders.items():
        assert order.number in html
        assert f"channel-{channel}" in html
    assert html.count('class="badge channel ') == 5


def test_list_filters_by_channel_status_and_search(client_a, a_orders):
    kiosk = a_orders[Channel.KIOSK]
    response = client_a.get(reverse("portal:orders"), {"channel": "kiosk"})
    numbers = set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode()))
    assert numbers == {kiosk.number}

    set_status(a_orders[Channel.PHONE], OrderStatus.CONFIRMED)
    response = client_a.get(reverse("portal:orders"), {"status": "confirmed"})
    assert set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode())) == {a_orders[Channel.PHONE].number}

    erp = a_orders[Channel.ERP]
    response = client_a.get(reverse("portal:orders"), {"q": erp.external_ref})
    assert set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode())) == {erp.number}
    response = client_a.get(reverse("portal:orders"), {"q": kiosk.number})
    assert set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode())) == {kiosk.number}


def test_list_filters_by_site_and_date(client_a, customer_a, a_orders):
    other_site = Site.objects.create(customer=customer_a, name="Second site", address="2 Side St")
    moved = a_orders[Channel.WEB]
    Order.objects.filter(pk=moved.pk).update(
        site=other_site, requested_date=timezone.localdate() + timedelta(days=9)
    )
    response = client_a.get(reverse("portal:orders"), {"site": str(other_site.public_id)})
    assert set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode())) == {moved.number}
    day = (timezone.localdate() + timedelta(days=5)).isoformat()
    response = client_a.get(reverse("portal:orders"), {"date_from": day})
    assert set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode())) == {moved.number}
    response = client_a.get(reverse("portal:orders"), {"date_to": day})
    assert len(set(re.findall(r"ORD-\d{4}-\d{6}", response.content.decode()))) == 4


def _bulk_orders(customer, world, n: int) -> None:
    now = timezone.now()
    site = customer.sites.first()
    channels = Channel.values
    Order.objects.bulk_create(
        [
            Order(
                number=f"ORD-BULK-{customer.pk}-{i:07d}",
                customer=customer,
                site=site,
                channel=channels[i % 5],
                requested_date=now.date(),
                plant=world.plant,
                gross_total=Decimal("10.00"),
                created_at=now - timedelta(seconds=i),
                updated_at=now,
            )
            for i in range(n)
        ],
        batch_size=1000,
    )


def test_keyset_pagination_walks_all_orders_once(client_a, customer_a, world):
    _bulk_orders(customer_a, world, 60)
    seen: list[str] = []
    url = reverse("portal:orders") + "?channel="
    for _page in range(5):
        response = client_a.get(url)
        html = response.content.decode()
        seen += re.findall(r">(ORD-BULK-\d+-\d{7})<", html)
        found = re.search(r'href="\?([^"]+)" rel="next"', html)
        if not found:
            break
        url = reverse("portal:orders") + "?" + found.group(1).replace("&amp;", "&")
    assert len(seen) == 60
    assert len(set(seen)) == 60
    assert seen == sorted(seen)


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_list_query_count_is_constant(client_a, customer_a, world):
    _bulk_orders(customer_a, world, 10)
    url = reverse("portal:orders") + "?channel=&status="
    small = _count_queries(client_a, url)
    _bulk_orders_more = 990
    now = timezone.now()
    Order.objects.bulk_create(
        [
            Order(
                number=f"ORD-MORE-{i:07d}",
                customer=customer_a,
                site=customer_a.sites.first(),
                channel=Channel.PHONE,
                requested_date=now.date(),
                plant=world.plant,
                created_at=now - timedelta(days=1, seconds=i),
                updated_at=now,
            )
            for i in range(_bulk_orders_more)
        ],
        batch_size=1000,
    )
    assert Order.objects.filter(customer=customer_a).count() == 1000
    large = _count_queries(client_a, url)
    assert small == large == 5


def test_detail_query_count_is_constant(client_a, customer_a, world):
    few = place(customer_a, sku="GRAVEL", quantity="3")
    add_job(few, world, ticket="TK-1", with_pdf=True)
    small = _count_queries(client_a, reverse("portal:order", args=[few.number]))
    many = place(customer_a, sku="GRAVEL", quantity="30")
    _bulk_orders(customer_a, world, 1000)
    for i in range(10):
        add_job(many, world, ticket=f"TK-M{i}", with_pdf=True)
        Message.objects.create(order=many, sender_role="rep", body=f"note {i}", at=timezone.now())
    large = _count_queries(client_a, reverse("portal:order", args=[many.number]))
    assert (small, large) == (9, 9)


def test_detail_shows_lines_timeline_jobs_and_map(client_a, customer_a, world):
    order = place(customer_a, sku="GRAVEL", quantity="5")
    OrderEvent.objects.create(order=order, at=timezone.now(), type="erp.internal", visible_to_customer=False)
    add_job(order, world, ticket="TK-7", status=JobStatus.EN_ROUTE)
    response = client_a.get(reverse("portal:order", args=[order.number]))
    html = response.content.decode()
    assert "Gravel 4-16" in html
    assert "Order placed" in html
    assert "erp.internal" not in html
    assert "TK-7" in html and "En route" in html
    assert "&quot;kind&quot;: &quot;truck&quot;" in html
    assert "&quot;kind&quot;: &quot;site&quot;" in html
    assert 'hx-trigger="every 5s"' in html


def test_jobs_fragment_shows_the_current_status(client_a, customer_a, world):
    order = place(customer_a)
    job = add_job(order, world, ticket="TK-9", status=JobStatus.LOADING)
    url = reverse("portal:order-jobs", args=[order.number])
    assert "Loading" in client_a.get(url).content.decode()
    job.status = JobStatus.ARRIVED
    job.save(update_fields=["status"])
    html = client_a.get(url).content.decode()
    assert "Arrived" in html
    assert "<html" not in html


def test_epod_pdf_download(client_a, customer_a, world):
    order = place(customer_a)
    add_job(order, world, ticket="TK-PDF", status=JobStatus.DELIVERED, with_pdf=True)
    response = client_a.get(reverse("portal:order-epod", args=[order.number, "TK-PDF"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="EPOD-TK-PDF.pdf"'
    assert b"".join(response.streaming_content) == MINIMAL_PDF


def test_place_order_twice_with_the_same_token_creates_one_order(client_a, customer_a, world):
    Product.objects.filter(pk=world.gravel.pk).update(unit_price=Decimal("20.00"))
    site = customer_a.sites.first()
    data = {
        "form_token": "tok-123456789",
        "site": str(site.public_id),
        "requested_date": (timezone.localdate() + timedelta(days=2)).isoformat(),
        "window_from": "08:00",
        "window_to": "10:00",
        "on_call": "on",
        "notes": "Gate 3",
        "lines-TOTAL_FORMS": "3",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": "GRAVEL",
        "lines-0-quantity": "12.5",
        "lines-1-product": "C25",
        "lines-1-quantity": "8",
    }
    first = client_a.post(reverse("portal:order-new"), data)
    second = client_a.post(reverse("portal:order-new"), data)
    orders = Order.objects.filter(customer=customer_a)
    assert orders.count() == 1
    order = orders.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("portal:order", args=[order.number])
    assert order.channel == Channel.WEB
    assert order.on_call is True
    assert order.notes == "Gate 3"
    assert [(line.sku, line.quantity) for line in order.lines.order_by("position")] == [
        ("GRAVEL", Decimal("12.500")),
        ("C25", Decimal("8.000")),
    ]
    assert order.gross_total == Decimal("1212.00")


def test_place_order_with_a_new_site(client_a, customer_a, world):
    data = {
        "form_token": "tok-new-site",
        "site": "new",
        "new_site_name": "Villa",
        "new_site_address": "5 Lake Rd",
        "requested_date": (timezone.localdate() + timedelta(days=1)).isoformat(),
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": "C25",
        "lines-0-quantity": "4",
    }
    response = client_a.post(reverse("portal:order-new"), data)
    assert response.status_code == 302
    order = Order.objects.get(customer=customer_a)
    assert order.site.name == "Villa"
    assert order.site.customer_id == customer_a.pk


def test_place_order_short_of_stock_shows_the_error_and_creates_nothing(client_a, customer_a, world):
    data = {
        "form_token": "tok-short",
        "site": str(customer_a.sites.first().public_id),
        "requested_date": (timezone.localdate() + timedelta(days=1)).isoformat(),
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": "GRAVEL",
        "lines-0-quantity": "5000",
    }
    response = client_a.post(reverse("portal:order-new"), data)
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()
    assert 'value="tok-short"' not in response.content.decode()
    assert Order.objects.filter(customer=customer_a).count() == 0


def test_availability_fragment(client_a, world):
    StockLevel.objects.filter(plant=world.plant, product=world.gravel).update(on_hand=Decimal("1000"))
    response = client_a.get(reverse("portal:availability"), {"lines-0-product": "GRAVEL"})
    assert "Sofia plant 1000" in response.content.decode()


def test_call_off_releases_the_remaining_quantity(client_a, customer_a, world):
    order = place(customer_a, on_call=True, quantity="24")
    url = reverse("portal:order-call-off", args=[order.number])
    assert client_a.get(url).status_code == 200
    response = client_a.post(url, {"line_1": "8", "note": "Pump ready at 9"})
    assert response.status_code == 302
    call_off = CallOff.objects.get(order=order)
    assert call_off.lines == [{"position": 1, "quantity": "8.000"}]
    assert call_off.note == "Pump ready at 9"
    assert order.lines.get().released == Decimal("8.000")


def test_cancel_before_loading_is_immediate(client_a, customer_a, world):
    order = place(customer_a)
    url = reverse("portal:order-cancel", args=[order.number])
    assert "Immediate cancellation." in client_a.get(url).content.decode()
    client_a.post(url, {"reason": "Changed plans"})
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_cancel_after_loading_needs_approval(client_a, customer_a, world):
    order = place(customer_a)
    Order.objects.filter(pk=order.pk).update(loading_started_at=timezone.now())
    url = reverse("portal:order-cancel", args=[order.number])
    assert "Needs approval." in client_a.get(url).content.decode()
    client_a.post(url, {"reason": "Rain"})
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLATION_REQUESTED


def test_return_request(client_a, customer_a, world):
    order = place(customer_a, sku="GRAVEL", quantity="10")
    set_status(order, OrderStatus.DELIVERED)
    order.lines.update(delivered=Decimal("10"))
    url = reverse("portal:order-return", args=[order.number])
    response = client_a.post(url, {"line_1": "11", "reason": "Too much"})
    assert response.status_code == 200
    assert ReturnRequest.objects.count() == 0
    response = client_a.post(url, {"line_1": "2.5", "reason": "Too much"})
    assert response.status_code == 302
    ret = ReturnRequest.objects.get(order=order)
    assert [(rl.order_line.position, rl.quantity) for rl in ret.lines.all()] == [(1, Decimal("2.500"))]
    assert ret.reason == "Too much"


def test_message_and_callback(client_a, customer_a, world):
    order = place(customer_a)
    response = client_a.post(
        reverse("portal:order-messages", args=[order.number]),
        {"body": "Please call before"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "Please call before" in response.content.decode()
    message = Message.objects.get(order=order)
    assert (message.sender_role, message.sender) == ("customer", "alpha@example.com")
    before = timezone.now()
    client_a.post(
        reverse("portal:order-callback", args=[order.number]), {"phone": "+359888123456", "reason": "Access"}
    )
    call = CallRequest.objects.get(order=order)
    assert call.kind == CallRequest.Kind.CALLBACK
    assert call.customer_id == customer_a.pk
    assert timedelta(hours=2) <= call.due_at - before < timedelta(hours=2, seconds=30)


def test_sites_create_and_edit(client_a, customer_a):
    response = client_a.post(
        reverse("portal:site-new"), {"name": "Depot", "address": "9 Road", "country": "BG"}
    )
    assert response.status_code == 302
    site = Site.objects.get(customer=customer_a, name="Depot")
    response = client_a.post(
        reverse("portal:site-edit", args=[site.public_id]),
        {"name": "Depot North", "address": "9 Road", "country": "BG", "lat": "42.1", "lon": "23.2"},
    )
    assert response.status_code == 302
    site.refresh_from_db()
    assert (site.name, site.lat, site.lon) == ("Depot North", 42.1, 23.2)


def test_tracking_page_has_no_personal_data_or_prices(client, customer_a, world):
    Product.objects.filter(pk=world.gravel.pk).update(unit_price=Decimal("20.00"))  # 100.00 net, 120.00 gross
    order = place(customer_a, sku="GRAVEL", quantity="5")
    add_job(order, world, ticket="TK-T", status=JobStatus.EN_ROUTE)
    response = client.get(reverse("track-page", args=[order.tracking_token]))
    assert response.status_code == 200
    html = response.content.decode()
    assert order.number in html and "TK-T" in html and "En route" in html
    for secret in ("Alpha Build", "alpha@example.com", "1 Main St", "100.00", "120.00", "Gravel"):
        assert secret not in html
    assert "&quot;kind&quot;: &quot;truck&quot;" in html
    assert "&quot;kind&quot;: &quot;site&quot;" not in html
    assert response["Referrer-Policy"] == "no-referrer"
    assert client.get(reverse("track-page", args=["nope"])).status_code == 404


@pytest.mark.parametrize(
    ("status", "polls"),
    [
        (OrderStatus.IN_DELIVERY, True),
        (OrderStatus.DELIVERED, True),  # the EPOD PDF may still be rendering
        (OrderStatus.COMPLETED, False),
        (OrderStatus.CANCELLED, False),
    ],
)
def test_jobs_fragment_polls_only_while_the_order_can_still_change(client, customer_a, world, status, polls):
    order = place(customer_a)
    add_job(order, world, ticket="TK-POLL")
    set_status(order, status)
    client.force_login(user_of(customer_a))

    detail = client.get(f"/portal/orders/{order.number}/").content.decode()
    fragment = client.get(f"/portal/orders/{order.number}/jobs/").content.decode()

    for html in (detail, fragment):
        assert ('hx-trigger="every 5s"' in html) is polls
        assert "TK-POLL" in html
