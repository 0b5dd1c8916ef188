"""The console's ERP drift report: open drifts, the resend per drift and the check on demand."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from erp_sync import tasks
from erp_sync.models import OrderDrift, SyncRun
from oms.models import ErpSystem, OutboxMessage
from tests.console.test_browser import browser_page  # noqa: F401 - the journey's fixture

REPORT = "admin:console-erp-drift"


@pytest.fixture
def erp(db):
    return ErpSystem.objects.create(code="ERP1", adapter="simulator", is_default=True)


@pytest.fixture
def drifts(world, erp):
    order, other = world.place(quantity="5"), world.place(quantity="2")
    now = timezone.now()
    return [
        OrderDrift.objects.create(
            system=erp,
            order=order,
            field="status",
            oms_value="cancelled",
            erp_value="confirmed",
            detected_at=now,
        ),
        OrderDrift.objects.create(
            system=erp,
            order=other,
            field="delivered",
            position=1,
            oms_value="0.000",
            erp_value="2.000",
            detected_at=now,
        ),
        OrderDrift.objects.create(
            system=erp,
            order=other,
            field="unknown",
            oms_value="placed",
            detected_at=now,
            resolved_at=now,
            resolution="converged",
            resolved_by="system",
        ),
    ]


def flashes(response) -> list[str]:
    """The messages shown on the page the action redirected to (shown messages are consumed)."""
    return [str(m) for m in response.context["messages"]]


def test_the_report_lists_open_drifts_with_their_values(drifts, rep_client):
    status, delivered, closed = drifts
    SyncRun.objects.create(
        system=status.system,
        direction="reconcile",
        started_at=timezone.now(),
        counts={"compared": 42},
        outcome="ok",
    )

    page = rep_client.get(reverse(REPORT)).content.decode()

    assert f'id="drift-{status.pk}"' in page and f'id="drift-{delivered.pk}"' in page
    assert f'id="drift-{closed.pk}"' not in page
    assert reverse("admin:console-order", args=[status.order_id]) in page
    assert status.order.number in page and "Cancelled" in page and "Confirmed" in page
    assert "Delivered quantity" in page and "2.000" in page
    assert page.count('action="' + reverse("admin:console-erp-drift-resend", args=[status.pk])) == 1
    assert reverse("admin:console-erp-drift-check") in page
    assert '<td class="num">42</td>' in page


def test_a_dispatcher_sees_the_report_without_actions(drifts, dispatcher_client):
    page = dispatcher_client.get(reverse(REPORT)).content.decode()

    assert f'id="drift-{drifts[0].pk}"' in page
    assert "console-erp-drift-check" not in page and "/resend/" not in page


def test_the_report_filters_by_erp(drifts, rep_client):
    ErpSystem.objects.create(code="ERP2", adapter="simulator")

    assert (
        f'id="drift-{drifts[0].pk}"'
        not in rep_client.get(reverse(REPORT), {"system": "ERP2"}).content.decode()
    )
    assert (
        f'id="drift-{drifts[0].pk}"' in rep_client.get(reverse(REPORT), {"system": "ERP1"}).content.decode()
    )


def test_resend_queues_the_orders_state_and_resolves_the_drift_once(drifts, rep, rep_client):
    status = drifts[0]
    url = reverse("admin:console-erp-drift-resend", args=[status.pk])

    first = rep_client.post(url, {"system": "ERP1"}, follow=True)

    assert first.redirect_chain == [(reverse(REPORT) + "?system=ERP1", 302)]
    assert flashes(first) == [
        f"The OMS's view of {status.order.number} was queued for ERP1; 1 drift(s) resolved."
    ]
    status.refresh_from_db()
    assert (status.resolution, status.resolved_by) == ("resent", "rita")
    pending = OutboxMessage.objects.filter(
        aggregate_id=status.order.number, status="pending", system__code="ERP1"
    )
    assert list(pending.values_list("type", flat=True)) == ["order.created", "item.positions"]
    entry = LogEntry.objects.get()
    assert (entry.user_id, entry.object_id) == (rep.pk, str(status.order_id))

    second = rep_client.post(url, headers={"accept-language": "bg"}, follow=True)
    assert second.redirect_chain == [(reverse(REPORT), 302)]
    assert flashes(second) == ["Това разминаване вече е решено."]
    assert LogEntry.objects.count() == 1


def test_check_now_queues_the_comparison_of_one_erp(erp, rep_client, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.compare_system, "apply_async", lambda args, **kw: queued.append(args))
    url = reverse("admin:console-erp-drift-check")

    response = rep_client.post(url, {"system": "ERP1"}, follow=True)

    assert queued == [["ERP1"]]
    assert response.redirect_chain == [(reverse(REPORT) + "?system=ERP1", 302)]
    assert flashes(response) == ["The comparison with ERP1 is queued; its result shows here when it has run."]
    refused = rep_client.post(url, {"system": "NOPE"}, follow=True)
    assert flashes(refused) == ["Choose an enabled ERP system."]
    assert queued == [["ERP1"]]


def test_the_queued_check_shows_its_run(world, erp, rep_client):
    world.place(quantity="1")
    tasks.compare_system.apply(args=["ERP1"])

    page = rep_client.get(reverse(REPORT)).content.decode()

    assert SyncRun.objects.get(direction="reconcile").outcome == "ok"
    assert "No open drifts." in page and ">ok</span>" in page


@pytest.mark.browser
def test_rep_resends_a_drift_and_checks_again_in_the_browser(live_server, request, transactional_db):
    import os

    from oms import roles
    from tests.console.conftest import make_user
    from tests.console.test_browser import flash, sign_in
    from tests.helpers import World

    page, problems = request.getfixturevalue("browser_page")
    world = World()
    make_user(roles.REP, "rita")
    erp = ErpSystem.objects.create(code="ERP1", adapter="simulator", is_default=True)
    order = world.place(quantity="5")
    drift = OrderDrift.objects.create(
        system=erp,
        order=order,
        field="delivered",
        position=1,
        oms_value="0.000",
        erp_value="2.000",
        detected_at=timezone.now(),
    )
    sign_in(page, live_server.url, "rita")

    page.locator(".console-nav").get_by_role("link", name="ERP drift").click()
    row = page.locator(f"#drift-{drift.pk}")
    assert row.inner_text().split("\t")[:6] == [
        order.number,
        "ERP1",
        "Delivered quantity",
        "1",
        "0.000",
        "2.000",
    ]
    if os.environ.get("OMS_SCREENSHOTS"):
        page.screenshot(path=os.path.join(os.environ["OMS_SCREENSHOTS"], "erp-drift.png"), full_page=True)
    row.get_by_role("button", name="Resend").click()
    page.locator("ul.messagelist li").first.wait_for()
    assert flash(page) == [f"The OMS's view of {order.number} was queued for ERP1; 1 drift(s) resolved."]
    assert page.locator("#erp-drift", has_text="No open drifts.").is_visible()
    page.locator("#erp-ERP1").get_by_role("button", name="Check now").click()
    page.locator("ul.messagelist li").first.wait_for()
    assert flash(page) == ["The comparison with ERP1 is queued; its result shows here when it has run."]
    assert problems == []
