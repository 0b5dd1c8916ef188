"""The main portal journey in a real browser (Playwright driving the system Chromium).

Zero console errors and zero CSP violations are allowed during the whole run.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from fleet.models import Job, JobStatus
from orders.models import CallOff, Channel, Order, OrderLine, OrderStatus, ReturnRequest
from tests.browser import (
    META_REFRESH_NAME,
    assert_no_problems,
    hover_and_read_tooltip,
    open_page,
    phone_layout_problems,
    tab_to,
)
from tests.portal.conftest import MINIMAL_PDF, PASSWORD, add_job, place, set_status

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def browser_page():
    ARTIFACTS.mkdir(exist_ok=True)
    with open_page(viewport={"width": 1200, "height": 900}, accept_downloads=True) as page_and_problems:
        yield page_and_problems


@pytest.mark.browser
def test_customer_journey(live_server, browser_page, customer_a, world):
    page, problems = browser_page
    base = live_server.url
    # Given orders of customer A from all five channels, one in delivery and one delivered.
    orders = {
        channel: place(customer_a, channel=channel, sku="GRAVEL", quantity="10") for channel in Channel.values
    }
    tracked = orders[Channel.PHONE]
    moving = add_job(tracked, world, ticket="TK-LIVE", status=JobStatus.LOADING)
    add_job(tracked, world, ticket="TK-DONE", status=JobStatus.DELIVERED, with_pdf=True)
    delivered = orders[Channel.KIOSK]
    set_status(delivered, OrderStatus.DELIVERED)
    delivered.lines.update(delivered=Decimal("10"))

    # Sign in.
    page.goto(f"{base}/portal/")
    page.get_by_label("Email").fill("alpha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/portal/")

    # All five channels in one list.
    for order in orders.values():
        assert page.get_by_role("link", name=order.number).is_visible()
    assert sorted(page.locator("td .channel").all_inner_texts()) == sorted(
        ["Store POS", "Web portal", "Phone", "Kiosk", "ERP"]
    )
    page.screenshot(path=ARTIFACTS / "portal-orders.png", full_page=True)

    # Open an order and watch a job status change arrive without a reload.
    page.get_by_role("link", name=tracked.number).click()
    page.wait_for_url(f"{base}/portal/orders/{tracked.number}/")
    page.evaluate("window.__sameDocument = true")
    job = page.locator('.job[data-ticket="TK-LIVE"] .job-status')
    assert job.inner_text() == "Loading"
    Job.objects.filter(pk=moving.pk).update(status=JobStatus.EN_ROUTE, eta=timezone.now())
    page.locator('.job[data-ticket="TK-LIVE"] .job-status', has_text="En route").wait_for(timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    page.locator(".leaflet-interactive").first.wait_for()  # the truck appeared on the map
    page.screenshot(path=ARTIFACTS / "portal-order-detail.png", full_page=True)

    # Download the EPOD PDF.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Delivery note (PDF)").click()
    download = download_info.value
    assert download.suggested_filename == "EPOD-TK-DONE.pdf"
    assert Path(download.path()).read_bytes() == MINIMAL_PDF

    # Place an order; a double-clicked submit creates one order.
    before = Order.objects.filter(customer=customer_a, channel=Channel.WEB).count()
    page.get_by_role("link", name="New order").first.click()
    page.locator("#id_lines-0-product").select_option("GRAVEL")
    page.locator("#avail-0", has_text="Sofia plant").wait_for()
    page.locator("#id_lines-0-quantity").fill("6")
    page.get_by_label("On call").check()
    page.screenshot(path=ARTIFACTS / "portal-new-order.png", full_page=True)
    page.locator("#place-order").dblclick()
    page.wait_for_url(f"{base}/portal/orders/ORD-*/")
    page.wait_for_load_state("networkidle")
    assert Order.objects.filter(customer=customer_a, channel=Channel.WEB).count() == before + 1
    new_order = Order.objects.filter(customer=customer_a, channel=Channel.WEB).latest("created_at")
    assert page.url == f"{base}/portal/orders/{new_order.number}/"
    assert new_order.on_call is True

    # Call off a load of the new on-call order.
    page.get_by_role("link", name="Call off a load").click()
    page.get_by_label("1. Gravel 4-16 (t)").fill("3")
    page.get_by_role("button", name="Call off").click()
    page.wait_for_url(f"{base}/portal/orders/{new_order.number}/")
    call_off = CallOff.objects.get(order=new_order)
    assert call_off.lines == [{"position": 1, "quantity": "3.000"}]

    # Request a return on the delivered order.
    page.goto(f"{base}/portal/orders/{delivered.number}/")
    page.get_by_role("link", name="Request a return").click()
    page.get_by_label("1. Gravel 4-16 (t)").fill("2")
    page.get_by_label("Reason").fill("Too much gravel")
    page.get_by_role("button", name="Request the return").click()
    page.wait_for_url(f"{base}/portal/orders/{delivered.number}/")
    assert ReturnRequest.objects.get(order=delivered).reason == "Too much gravel"

    # Switch to Bulgarian.
    page.locator("#lang-select").select_option("bg")
    page.locator(".lang-switch button").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("html").get_attribute("lang") == "bg"
    assert page.get_by_role("link", name="Моите поръчки").is_visible()
    page.screenshot(path=ARTIFACTS / "portal-order-detail-bg.png", full_page=True)

    # The public tracking page, on a phone.
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{base}/track/{tracked.tracking_token}/")
    assert page.locator(".job").count() == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=ARTIFACTS / "track-mobile.png", full_page=True)
    page.goto(f"{base}/portal/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=ARTIFACTS / "portal-orders-mobile.png", full_page=True)

    # Sign out.
    page.get_by_role("button", name="Изход").click()
    page.wait_for_url(f"{base}/portal/login/")

    assert_no_problems(page, problems)


@pytest.mark.browser
def test_placing_an_order_with_the_keyboard_only(live_server, customer_a, world):
    base = live_server.url
    with open_page(viewport={"width": 1200, "height": 900}) as (page, problems):
        page.goto(f"{base}/portal/login/")
        tab_to(page, "#id_username")
        page.keyboard.type("alpha@example.com")
        tab_to(page, "#id_password")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/portal/")

        tab_to(page, "nav a[href='/portal/orders/new/']")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/portal/orders/new/")
        tab_to(page, "#id_lines-0-product")
        page.keyboard.type("Gravel")  # the select's type-ahead picks "Gravel 4-16"
        page.locator("#avail-0", has_text="Sofia plant").wait_for()
        tab_to(page, "#id_lines-0-quantity")
        page.keyboard.type("6.5")
        tab_to(page, "#id_on_call")
        page.keyboard.press("Space")
        tab_to(page, "#id_notes")
        page.keyboard.type("Gate 3, call on arrival")
        tab_to(page, "#id_on_call", backwards=True)  # back to check the box again: still ticked
        assert page.locator("#id_on_call").is_checked()
        tab_to(page, "#place-order")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{base}/portal/orders/ORD-*/")

        order = Order.objects.get(customer=customer_a)
        assert page.url == f"{base}/portal/orders/{order.number}/"
        assert (order.channel, order.on_call, order.notes, order.site) == (
            Channel.WEB,
            True,
            "Gate 3, call on arrival",
            customer_a.sites.get(),
        )
        assert list(OrderLine.objects.filter(order=order).values_list("sku", "quantity")) == [
            ("GRAVEL", Decimal("6.500"))
        ]
        assert_no_problems(page, problems)


PHONE = {"width": 375, "height": 812}


@pytest.mark.browser
def test_the_portal_on_a_phone(live_server, customer_a, world, tmp_path):
    """375 CSS px wide: no sideways scrolling and tap targets of 24×24 px or well apart (WCAG 2.5.8);
    a screenshot of each page is in the test's temporary directory."""
    base = live_server.url
    order = place(customer_a, channel=Channel.WEB, sku="GRAVEL", quantity="10")
    add_job(order, world, ticket="TK-NEXT", status=JobStatus.EN_ROUTE)
    with open_page(viewport=PHONE) as (page, problems):
        page.goto(f"{base}/portal/login/")
        page.get_by_label("Email").fill("alpha@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/portal/")

        for name, path in (
            ("orders", "/portal/"),
            ("order", f"/portal/orders/{order.number}/"),
            ("new-order", "/portal/orders/new/"),
            ("tracking", f"/track/{order.tracking_token}/"),
        ):
            page.goto(f"{base}{path}")
            if name in ("order", "tracking"):
                page.locator(".leaflet-interactive").first.wait_for()  # the truck is on the map
            shot = tmp_path / f"{name}.png"
            page.screenshot(path=shot, full_page=True)
            layout = phone_layout_problems(page, PHONE["width"])
            assert layout == [], f"{name} page on a phone ({shot}):\n" + "\n".join(layout)
            if name == "order":
                assert page.locator(".page-head .status").inner_text() == "Placed"
                job = page.locator('.job[data-ticket="TK-NEXT"]')
                assert job.locator(".job-status").inner_text() == "En route"
                assert job.locator(".eta").is_visible()
                assert page.locator(".map").bounding_box()["width"] <= PHONE["width"]
        assert_no_problems(page, problems)


@pytest.mark.browser
def test_a_site_name_in_a_map_tooltip_is_text_not_markup(live_server, browser_page, customer_a):
    page, problems = browser_page
    customer_a.sites.update(name=META_REFRESH_NAME, lat=42.6977, lon=23.3219)
    order = place(customer_a, sku="GRAVEL", quantity="5")

    page.goto(f"{live_server.url}/portal/")
    page.get_by_label("Email").fill("alpha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/portal/")
    page.goto(f"{live_server.url}/portal/orders/{order.number}/")
    seen = hover_and_read_tooltip(page, page.locator("[data-map] .leaflet-marker-icon"))

    assert seen == {"url_unchanged": True, "new_metas": 0, "text": META_REFRESH_NAME}
    assert_no_problems(page, problems)


@pytest.mark.browser
def test_a_refused_message_says_when_to_try_again(live_server, browser_page, customer_a, world, settings):
    page, problems = browser_page
    base = live_server.url
    order = place(customer_a, sku="GRAVEL", quantity="10")
    settings.OMS_WRITES_PER_ORDER_PER_MINUTE = 1
    page.goto(f"{base}/portal/")
    page.get_by_label("Email").fill("alpha@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/portal/")
    page.goto(f"{base}/portal/orders/{order.number}/")

    page.locator("#thread textarea[name=body]").fill("First")
    page.locator("#thread").get_by_role("button", name="Send").click()
    page.locator(".thread", has_text="First").wait_for()
    page.locator("#thread textarea[name=body]").fill("Second")
    page.locator("#thread").get_by_role("button", name="Send").click()

    alert = page.locator("#thread form [role=alert]")
    alert.wait_for()
    assert alert.inner_text().startswith("Too many requests, try again in ")
    assert page.locator("#thread textarea[name=body]").input_value() == "Second"  # nothing lost, nothing sent
    assert list(order.messages.values_list("body", flat=True)) == ["First"]
    # The browser reports the refused request itself; nothing else may go wrong.
    assert problems == [
        "console error: Failed to load resource: the server responded with a status of 429 (Too Many Requests)"
    ]
