"""The dispatch board's markup: orders to plan in pages of 25 with a page navigation, one id per
element, a header row on every table, and the staff site's own name."""

from __future__ import annotations

import re
from collections import Counter

from django.urls import reverse

from console.selectors.dispatch import PLAN_PAGE_SIZE

DAY = "2099-01-01"  # every open order is due by then


def board(client, **params) -> str:
    response = client.get(reverse("admin:console-dispatch"), {"date": DAY, **params})
    assert response.status_code == 200
    return response.content.decode()


def planned_rows(page: str) -> list[str]:
    table = page.split('id="orders-to-plan"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<a href="/admin/console/orders/\d+/">(ORD-[\d-]+)</a>', table)


def test_orders_to_plan_come_in_pages_of_25(dispatcher_client, world):
    numbers = [world.place(quantity="1").number for _ in range(PLAN_PAGE_SIZE + 3)]

    first = board(dispatcher_client)
    assert planned_rows(first) == numbers[:PLAN_PAGE_SIZE]
    nav = first.split('<nav class="console-pager"', 1)[1].split("</nav>", 1)[0]
    assert 'aria-label="Pages of the loads to plan"' in nav
    assert "Orders 1–25 of 28" in nav
    assert re.findall(r'page=(\d)#orders-to-plan-h"( aria-current="page")?', nav) == [
        ("1", ' aria-current="page"'),
        ("2", ""),
        ("2", ""),  # "Next"
    ]

    second = board(dispatcher_client, page="2")
    assert planned_rows(second) == numbers[PLAN_PAGE_SIZE:]
    assert "Orders 26–28 of 28" in second
    # A page out of range or not a number shows the nearest page, never an error.
    assert planned_rows(board(dispatcher_client, page="9")) == numbers[PLAN_PAGE_SIZE:]
    assert planned_rows(board(dispatcher_client, page="x")) == numbers[:PLAN_PAGE_SIZE]


def test_one_page_has_no_page_navigation(dispatcher_client, world):
    number = world.place(quantity="1").number
    page = board(dispatcher_client)
    assert planned_rows(page) == [number]
    assert "console-pager" not in page


def test_every_id_is_unique_and_every_table_has_a_header_row(dispatcher_client, world):
    world.place(quantity="1")
    world.truck  # noqa: B018 - a truck for the plan-a-tour form and the trucks table
    page = board(dispatcher_client)
    ids = Counter(re.findall(r'\sid="([^"]+)"', page))
    assert [name for name, count in ids.items() if count > 1] == []
    assert ids["id_date"] == 1 and ids["plan_date"] == 1
    tables = re.findall(r"<table class=\"console-table.*?</table>", page, re.S)
    assert len(tables) == 3
    for table in tables:
        assert re.search(r'<thead><tr>(<th scope="col"[^>]*>.*?</th>)+</tr></thead>', table), table[:200]


def test_the_staff_site_has_its_own_name(dispatcher_client):
    page = board(dispatcher_client)
    assert "<title>Dispatch board | OMS console</title>" in page
    assert "Django administration" not in page
    assert re.search(r'<div id="site-name"><a href="/admin/">\s*OMS console\s*</a>', page)


def test_the_board_day_is_the_staff_day_not_the_utc_day(dispatcher_client, world, settings):
    """22:30 UTC on 7 January is 00:30 on the 8th in Sofia: that load is the 8th's, not the 7th's."""
    from datetime import UTC, datetime

    from fleet.models import Job
    from fleet.services import order_split_into_jobs
    from oms.lib.actors import Actor

    settings.OMS_DISPLAY_TIME_ZONE = "Europe/Sofia"
    order = world.place(quantity="1")
    planned = datetime(2099, 1, 7, 22, 30, tzinfo=UTC)
    (job,) = order_split_into_jobs(order=order, actor=Actor.system("test"), planned_at=planned)
    assert Job.objects.get(pk=job.pk).planned_at == planned

    def unassigned(day: str) -> list[str]:
        response = dispatcher_client.get(reverse("admin:console-dispatch"), {"date": day})
        return [j.ticket for j in response.context["unassigned"]]

    assert unassigned("2099-01-07") == []
    assert unassigned("2099-01-08") == [job.ticket]
