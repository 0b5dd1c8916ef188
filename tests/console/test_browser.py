"""Rep and dispatcher journeys in a real browser (Playwright driving the system Chromium).

Zero console errors and zero CSP violations are allowed during each journey.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from customers.models import Site
from fleet.models import JobStatus
from fleet.services import order_split_into_jobs, tour_plan
from oms import roles
from oms.lib.actors import Actor
from oms.models import OutboxMessage, OutboxStatus
from orders.models import Channel, Order, OrderLine, OrderStatus
from tests.browser import META_REFRESH_NAME, assert_no_problems, hover_and_read_tooltip, open_page, tab_to
from tests.console.conftest import PASSWORD, make_user
from tests.helpers import World

# Playwright's sync API runs an event loop in this thread; the ORM calls below are still synchronous.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


@pytest.fixture
def browser_page():
    with open_page(viewport={"width": 1400, "height": 1000}, report_http_errors=True) as page_and_problems:
        yield page_and_problems


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/console/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{base}/admin/console/")


def flash(page) -> list[str]:
    return page.locator("ul.messagelist li").all_inner_texts()


@pytest.mark.browser
def test_rep_journey(live_server, browser_page, transactional_db):
    page, problems = browser_page
    base = live_server.url
    world = World()
    make_user(roles.REP, "rita")
    # An order whose ERP message died, and one whose cancellation (after loading) awaits approval.
    stuck = world.place(channel=Channel.WEB, quantity="5")
    OutboxMessage.objects.filter(aggregate_id=stuck.number).update(
        status=OutboxStatus.DEAD, last_error="rejected"
    )
    loaded = world.place(channel=Channel.KIOSK, quantity="4")
    Order.objects.filter(pk=loaded.pk).update(
        status=OrderStatus.CANCELLATION_REQUESTED,
        status_before=OrderStatus.PLACED,
        loading_started_at=timezone.now(),
    )
    OrderLine.objects.filter(order=loaded).update(loaded=Decimal("4"))

    sign_in(page, base, "rita")

    # Find the order by the customer's phone number, typed the way the customer says it.
    page.locator("#console-q").fill("0888 123 456")
    page.locator(".console-search button").click()
    page.locator("#search-orders").get_by_role("link", name=stuck.number).wait_for()
    assert page.locator("#search-customers").get_by_role("link", name="C-100001").is_visible()

    # Customer 360.
    page.locator("#search-customers").get_by_role("link", name="C-100001").click()
    page.locator("h1", has_text="C-100001 Ivan Petrov").wait_for()
    assert page.locator("#customer-orders tbody tr").count() == 2

    # Enter a phone order with live availability.
    page.locator("#new-phone-order").click()
    page.locator("#id_site").select_option(str(world.site.public_id))
    page.locator("#id_lines-0-sku").select_option("GRAVEL")
    page.locator("#avail-0", has_text="SOF: 91 t").wait_for()
    page.locator("#id_lines-0-quantity").fill("3")
    page.locator("#place-order").dblclick()
    page.wait_for_url(re.compile(r".*/admin/console/orders/\d+/$"))  # not orders/new/
    phone_order = Order.objects.get(channel=Channel.PHONE)
    assert page.url == f"{base}/admin/console/orders/{phone_order.pk}/"
    assert flash(page) == [f"Order {phone_order.number} placed."]

    # Correct a line (the reason is required).
    row = page.locator("#line-1")
    row.locator("select[name=field]").select_option("quantity")
    row.locator("input[name=new]").fill("4")
    row.locator("input[name=reason]").fill("Customer called back: one more tonne")
    row.get_by_role("button", name="Correct").click()
    page.locator("ul.messagelist li", has_text="Line corrected.").wait_for()
    assert phone_order.lines.get().quantity == Decimal("4.000")
    assert page.locator("#order-timeline", has_text="order.corrected").is_visible()

    # Approve the cancellation request from the approvals queue.
    page.get_by_role("link", name="Approvals").click()
    page.locator("#cancellation-queue").get_by_role("link", name="Decide").click()
    page.locator("#approve-reason").fill("Site closed by the police")
    page.locator("#id_qty_1").fill("4")
    page.locator("#approve-cancellation").click()
    page.locator("ul.messagelist li", has_text="Cancellation approved.").wait_for()
    loaded.refresh_from_db()
    assert loaded.status == OrderStatus.CANCELLED
    assert page.locator("#order-status").inner_text() == "Cancelled"

    # Resend the dead ERP message.
    page.goto(f"{base}/admin/console/orders/{stuck.pk}/")
    page.locator("#dead-messages").get_by_role("button", name="Resend to ERP").click()
    page.locator("ul.messagelist li", has_text="ERP message queued for resending.").wait_for()
    assert OutboxMessage.objects.get(aggregate_id=stuck.number).status == OutboxStatus.PENDING
    assert page.locator("#dead-messages").count() == 0

    assert_no_problems(page, problems)


@pytest.mark.browser
def test_dispatcher_assigns_a_job_and_sees_it_on_the_board(live_server, browser_page, transactional_db):
    page, problems = browser_page
    base = live_server.url
    world = World()
    make_user(roles.DISPATCHER, "dan")
    order = world.place(quantity="8")
    system = Actor.system("test")
    (job,) = order_split_into_jobs(
        order=order, actor=system, planned_at=timezone.now() - timedelta(minutes=30)
    )
    # The board's day is the staff's (OMS_DISPLAY_TIME_ZONE), not the UTC day.
    day = timezone.localdate(job.planned_at, timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE))
    tour = tour_plan(plant=world.plant, truck=world.truck, driver=world.driver, date=day, actor=system)

    sign_in(page, base, "dan")
    page.goto(f"{base}/admin/console/dispatch/?date={tour.date.isoformat()}")
    late_row = page.locator(f"#job-{job.ticket}")
    assert "is-late" in late_row.get_attribute("class")
    # The map shows the truck.
    page.locator("#dispatch-map[data-marker-count='1']").wait_for()

    late_row.locator("select[name=tour]").select_option(str(tour.pk))
    late_row.get_by_role("button", name="Assign").click()
    page.locator("ul.messagelist li", has_text=f"Job {job.ticket} assigned to TRK-01.").wait_for()
    job.refresh_from_db()
    assert (job.status, job.tour_id) == (JobStatus.ASSIGNED, tour.pk)
    assert page.locator(f"#tour-{tour.number}", has_text=job.ticket).is_visible()
    assert page.locator("#unassigned-jobs", has_text="Nothing to assign.").is_visible()

    assert_no_problems(page, problems)


@pytest.mark.browser
def test_phone_order_with_the_keyboard_only(live_server, browser_page, transactional_db):
    """Sign in, find the customer, place a phone order: Tab, Shift+Tab, Enter and typing only."""
    page, problems = browser_page
    base = live_server.url
    world = World()
    make_user(roles.REP, "rita")

    page.goto(f"{base}/admin/login/?next=/admin/console/")
    tab_to(page, "#id_username")
    page.keyboard.type("rita")
    tab_to(page, "#id_password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/console/")

    tab_to(page, ".console-nav a[href='/admin/console/search/']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/console/search/")
    tab_to(page, "#console-q")
    page.keyboard.type("0888 123 456")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/console/search/?q=*")
    tab_to(page, "#search-customers a")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/console/customers/{world.customer.pk}/")
    tab_to(page, "#new-phone-order")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/admin/console/orders/new/?customer={world.customer.pk}")

    tab_to(page, "#id_site")
    page.keyboard.type("Lozenets")
    tab_to(page, "#id_lines-0-sku")
    page.keyboard.type("GRAVEL")
    page.locator("#avail-0", has_text="SOF: 100 t").wait_for()
    tab_to(page, "#id_lines-0-quantity")
    page.keyboard.type("3.5")
    tab_to(page, "#id_notes", backwards=True)
    page.keyboard.type("Called at 9, gate code 1234")
    tab_to(page, "#place-order")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/admin/console/orders/\d+/$"))  # not orders/new/

    order = Order.objects.get(channel=Channel.PHONE)
    assert page.url == f"{base}/admin/console/orders/{order.pk}/"
    assert flash(page) == [f"Order {order.number} placed."]
    assert (order.customer, order.site, order.notes, order.requested_date) == (
        world.customer,
        world.site,
        "Called at 9, gate code 1234",
        timezone.localdate(timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE)),
    )
    assert list(order.lines.values_list("sku", "quantity")) == [("GRAVEL", Decimal("3.500"))]
    assert_no_problems(page, problems)


@pytest.mark.browser
def test_a_site_name_in_a_map_tooltip_is_text_not_markup(live_server, browser_page, transactional_db):
    page, problems = browser_page
    world = World()
    Site.objects.filter(pk=world.site.pk).update(name=META_REFRESH_NAME, lat=42.6977, lon=23.3219)
    order = world.place(quantity="5")
    make_user(roles.REP, "rita")

    sign_in(page, live_server.url, "rita")
    page.goto(f"{live_server.url}/admin/console/orders/{order.pk}/")
    seen = hover_and_read_tooltip(page, page.locator("#order-map path.leaflet-interactive"))

    assert seen == {"url_unchanged": True, "new_metas": 0, "text": META_REFRESH_NAME}
    assert_no_problems(page, problems)


DASHBOARD_CHARTS = (
    "status",
    "plant",
    "on-time",
    "truck",
    "callbacks",
    "volume",
    "backlog-waiting",
    "backlog-age",
)


@pytest.mark.browser
def test_dashboard_in_english_and_bulgarian(live_server, browser_page, transactional_db):
    page, problems = browser_page
    base = live_server.url
    world = World()
    make_user(roles.DISPATCHER, "dan")
    order = world.place(quantity="8")
    system = Actor.system("test")
    order_split_into_jobs(order=order, actor=system)

    sign_in(page, base, "dan")
    page.get_by_role("link", name="Picture of the day").click()
    page.locator("h1", has_text="Picture of the day").wait_for()
    assert page.locator("#dash-loads .dash-big").inner_text() == "1 load"
    for chart in DASHBOARD_CHARTS:
        assert page.locator(f"#chart-{chart}-title").count() == 1
    page.locator("#dash-volume summary").click()
    assert page.locator("#volume-table caption").is_visible()

    page.context.add_cookies([{"name": "django_language", "value": "bg", "url": base}])
    page.reload()
    page.locator("h1", has_text="Картина на деня").wait_for()
    day = order.requested_date
    assert page.locator("#dashboard-day").inner_text().startswith(day.strftime("%d.%m.%Y"))

    assert_no_problems(page, problems)
