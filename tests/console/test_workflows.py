"""Phone orders, queues, the dispatch board, exports and merging customers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone

from catalog.models import StockLevel
from console import services as console_services
from console import tasks as console_tasks
from console.views import exports as console_exports
from customers.models import Customer
from fleet.models import CallRequest, Job, JobStatus, Message, SenderRole, Tour
from fleet.services import order_split_into_jobs, tour_plan
from oms.lib.actors import Actor
from oms.models import IdempotencyRecord
from orders.models import Channel, Order, OrderStatus
from orders.services.placement import plant_today
from tests import factories
from tests.console.conftest import client_for

# --- phone orders ----------------------------------------------------------------------------


@pytest.fixture
def c25_30(product_factory):
    """The made-to-order concrete of the phone form's second line."""
    return product_factory(
        sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"), stocked=False
    )


def phone_form(world, token="tok-1", **extra):
    data = {
        "token": token,
        "customer": world.customer.pk,
        "fulfilment": "delivery",
        "site": str(world.site.public_id),
        "requested_date": plant_today(world.plant).isoformat(),
        "notes": "Call before arrival",
        "lines-TOTAL_FORMS": "4",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
        "lines-0-sku": "GRAVEL",
        "lines-0-quantity": "7",
        "lines-1-sku": "C25-30",
        "lines-1-quantity": "2.5",
    }
    data.update(extra)
    return data


def test_phone_order_is_placed_through_order_place_once_per_token(world, c25_30, rep, rep_client):
    url = reverse("admin:console-phone-order")
    form_page = rep_client.get(url, {"customer": world.customer.pk})
    assert form_page.status_code == 200
    assert 'name="token"' in form_page.content.decode()

    first = rep_client.post(url, phone_form(world))
    second = rep_client.post(url, phone_form(world))  # double submit

    order = Order.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("admin:console-order", args=[order.pk])
    assert (order.channel, order.created_by, order.notes) == (Channel.PHONE, rep, "Call before arrival")
    assert [(line.sku, line.quantity) for line in order.lines.order_by("position")] == [
        ("GRAVEL", Decimal("7.000")),
        ("C25-30", Decimal("2.500")),
    ]
    placed = order.events.get(type="order.placed")
    assert (placed.actor_kind, placed.actor, placed.channel) == ("user", "rita", "phone")
    assert StockLevel.objects.get(plant=world.plant, product=world.gravel).allocated == Decimal("7.000")
    assert IdempotencyRecord.objects.get().scope == f"user:{rep.pk}"
    assert LogEntry.objects.get().change_message == "Phone order placed for C-100001."


def test_phone_order_form_offers_today_in_the_staff_time_zone(world, rep_client, monkeypatch):
    # 22:30 UTC on 7 December is 00:30 on 8 December in Sofia: "today" for the rep is the 8th.
    late = datetime(2026, 12, 7, 22, 30, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: late)
    page = rep_client.get(reverse("admin:console-phone-order"), {"customer": world.customer.pk})
    assert page.context["form"].initial["requested_date"] == date(2026, 12, 8)


def test_phone_order_out_of_stock_shows_the_error_and_places_nothing(world, c25_30, rep_client):
    response = rep_client.post(
        reverse("admin:console-phone-order"), phone_form(world, **{"lines-0-quantity": "500"}), follow=True
    )
    assert response.status_code == 200
    assert Order.objects.count() == 0
    assert "GRAVEL" in " ".join(str(m) for m in response.context["messages"])
    # The conflict is stored under the used token; the form comes back with a fresh one.
    assert IdempotencyRecord.objects.get().response_status == 409
    assert response.context["form"]["token"].value() not in ("", "tok-1")


def test_availability_fragment(world, rep_client):
    response = rep_client.get(reverse("admin:console-availability"), {"lines-0-sku": "GRAVEL"})
    assert response.status_code == 200
    assert response.content.decode().strip() == (
        '<span class="avail" data-sku="GRAVEL"><span class="avail-plant">SOF: 100 t</span></span>'
    )


# --- queues ----------------------------------------------------------------------------------


def test_callback_queue_overdue_assign_start_done(world, rep, rep_client):
    order = world.place()
    now = timezone.now()
    late = CallRequest.objects.create(
        order=order,
        customer=world.customer,
        requested_by_role=SenderRole.CUSTOMER,
        reason="Where is my truck?",
        due_at=now - timedelta(minutes=5),
        created_at=now - timedelta(minutes=20),
    )
    CallRequest.objects.create(
        requested_by_role=SenderRole.DRIVER,
        reason="Gate closed",
        due_at=now + timedelta(minutes=10),
        created_at=now,
    )
    page = rep_client.get(reverse("admin:console-queue-callbacks"))
    assert [(c.reason, c.overdue) for c in page.context["calls"]] == [
        ("Where is my truck?", True),
        ("Gate closed", False),
    ]
    assert f'<tr class="is-overdue" id="call-{late.pk}">' in page.content.decode()

    rep_client.post(reverse("admin:console-callback-assign", args=[late.pk]))
    before_start = timezone.now()
    rep_client.post(reverse("admin:console-callback-start", args=[late.pk]))
    late.refresh_from_db()
    assert (late.status, late.closed_at) == (CallRequest.Status.IN_PROGRESS, None)
    assert before_start <= late.started_at <= timezone.now()
    started_at = late.started_at
    rep_client.post(reverse("admin:console-callback-done", args=[late.pk]), {"outcome": "Told ETA 11:00"})
    late.refresh_from_db()
    assert (late.status, late.assigned_to, late.outcome) == (CallRequest.Status.DONE, rep, "Told ETA 11:00")
    assert late.started_at == started_at
    assert list(order.events.filter(type__startswith="call_request.").values_list("type", flat=True)) == [
        "call_request.assigned",
        "call_request.started",
        "call_request.done",
    ]


def test_done_needs_an_outcome(world, rep_client):
    call = CallRequest.objects.create(
        requested_by_role=SenderRole.CUSTOMER,
        reason="x",
        status=CallRequest.Status.IN_PROGRESS,
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    rep_client.post(reverse("admin:console-callback-done", args=[call.pk]), {"outcome": ""})
    call.refresh_from_db()
    assert call.status == CallRequest.Status.IN_PROGRESS


def test_messages_awaiting_reply_and_reply(world, rep_client):
    order = world.place()
    inbound = Message.objects.create(
        order=order, sender_role=SenderRole.CUSTOMER, body="Can you come at 9?", at=timezone.now()
    )
    Message.objects.create(
        order=order, sender_role=SenderRole.REP, sender="rita", body="ok", at=timezone.now()
    )
    page = rep_client.get(reverse("admin:console-queue-messages"))
    assert [m.body for m in page.context["inbound"]] == ["Can you come at 9?"]
    rep_client.post(reverse("admin:console-message-reply", args=[inbound.pk]), {"body": "Yes, 9:00 works."})
    inbound.refresh_from_db()
    assert inbound.read_at is not None
    assert (
        Message.objects.filter(sender_role=SenderRole.REP, body="Yes, 9:00 works.", order=order).count() == 1
    )
    assert list(rep_client.get(reverse("admin:console-queue-messages")).context["inbound"]) == []


def test_approval_queue_lists_cancellation_and_return_requests(world, rep_client):
    order = world.place()
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CANCELLATION_REQUESTED)
    page = rep_client.get(reverse("admin:console-queue-approvals"))
    assert [o.number for o in page.context["cancellations"]] == [order.number]
    assert list(page.context["returns"]) == []


# --- dispatch board --------------------------------------------------------------------------


@pytest.fixture
def planned_job(world):
    order = world.place(quantity="8")
    dispatcher = Actor.system("test")
    (job,) = order_split_into_jobs(
        order=order, actor=dispatcher, planned_at=timezone.now() - timedelta(hours=1)
    )
    tour = tour_plan(
        plant=world.plant, truck=world.truck, driver=world.driver, date=timezone.localdate(), actor=dispatcher
    )
    return order, job, tour


def test_dispatch_board_shows_late_unassigned_job_and_assigns_it(
    world, planned_job, dispatcher, dispatcher_client
):
    order, job, tour = planned_job
    day = tour.date.isoformat()
    page = dispatcher_client.get(reverse("admin:console-dispatch"), {"date": day})
    assert page.status_code == 200
    assert [(j.ticket, j.late, [t.number for t in j.tour_choices]) for j in page.context["unassigned"]] == [
        (job.ticket, True, [tour.number])
    ]
    assert page.context["late_count"] == 1
    assert [(t.code, t.tour_today.number) for t in page.context["trucks"]] == [("TRK-01", tour.number)]

    response = dispatcher_client.post(
        reverse("admin:console-job-assign", args=[job.pk]),
        {"tour": tour.pk, "next": f"/admin/console/dispatch/?date={day}"},
    )
    assert response["Location"] == f"/admin/console/dispatch/?date={day}"
    job.refresh_from_db()
    order.refresh_from_db()
    assert (job.status, job.tour_id) == (JobStatus.ASSIGNED, tour.pk)
    assert order.status == OrderStatus.SCHEDULED
    assert order.events.get(type="job.assigned").actor == "dan"
    page = dispatcher_client.get(reverse("admin:console-dispatch"), {"date": day})
    assert page.context["unassigned"] == []
    assert [[j.ticket for j in t.jobs.all()] for t in page.context["tours"]] == [[job.ticket]]
    assert [(t.code, t.tour_today.number) for t in page.context["trucks"]] == [("TRK-01", tour.number)]


def test_plan_tour_and_truck_positions(world, dispatcher_client):
    day = timezone.localdate()
    dispatcher_client.post(
        reverse("admin:console-tour-plan"), {"truck": world.truck.pk, "driver": world.driver.pk, "date": day}
    )
    assert list(Tour.objects.values_list("truck__code", "driver__code", "date")) == [
        ("TRK-01", "DRV-01", day)
    ]
    data = dispatcher_client.get(reverse("admin:console-dispatch-trucks")).json()
    assert [(t["code"], t["lat"], t["lon"], t["stale"]) for t in data["trucks"]] == [
        ("TRK-01", 42.68, 23.31, False)
    ]


def test_create_jobs_from_the_board(world, truck_factory, dispatcher_client):
    truck_factory(plant=world.plant, capacity=Decimal("10.000"))  # the loads are cut to this capacity
    order = world.place(quantity="15")
    dispatcher_client.post(reverse("admin:console-order-split", args=[order.pk]))
    assert sorted(Job.objects.filter(order=order).values_list("lines__planned", flat=True)) == [
        Decimal("5.000"),
        Decimal("10.000"),
    ]


# --- exports ---------------------------------------------------------------------------------


def test_export_csv_is_filtered_and_formula_safe(world, rep_client):
    evil = factories.CustomerFactory(
        number="C-300003", name='=HYPERLINK("http://x")', email="e@example.com", phone=""
    )
    world.place(customer=evil, channel=Channel.KIOSK, external_ref="+1-ref")
    world.place(channel=Channel.WEB)
    response = rep_client.get(reverse("admin:console-export-orders"), {"channel__exact": "kiosk"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == console_services.EXPORT_HEADER
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["channel"], row["customer_name"], row["external_ref"], row["gross_total"]) == (
        "kiosk",
        '\'=HYPERLINK("http://x")',
        "'+1-ref",
        "60.00",
    )
    assert console_services.safe_cell("-5") == "'-5"
    assert console_services.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert console_services.safe_cell("plain") == "plain"


def test_large_export_runs_in_a_task_and_is_downloadable(
    world, rep, rep_client, monkeypatch, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = str(tmp_path)
    monkeypatch.setattr(console_exports, "EXPORT_SYNC_LIMIT", 1)
    monkeypatch.setattr(
        console_tasks.console_export_orders, "delay", lambda *a: console_tasks.console_export_orders(*a)
    )
    world.place()
    world.place()
    with django_capture_on_commit_callbacks(execute=True):
        response = rep_client.get(reverse("admin:console-export-orders"))
    assert response["Location"] == reverse("admin:console-exports")
    files = list((tmp_path / "exports" / str(rep.pk)).iterdir())
    assert len(files) == 1 and files[0].suffix == ".csv"
    assert len(files[0].read_text().splitlines()) == 3
    listing = rep_client.get(reverse("admin:console-exports"))
    assert [f["name"] for f in listing.context["files"]] == [files[0].name]
    download = rep_client.get(reverse("admin:console-export-download", args=[files[0].name]))
    assert download.status_code == 200
    # Another user cannot fetch it.
    other = client_for(factories.UserFactory(username="rob", is_staff=True, is_superuser=True))
    assert other.get(reverse("admin:console-export-download", args=[files[0].name])).status_code == 404


# --- merge -----------------------------------------------------------------------------------


def test_merge_duplicates_with_a_confirmation_page(world, rep_client):
    dup = Customer.objects.create(number="C-100002", name="Ivan Petrov", email="", phone="+359888999000")
    dup_order = world.place(customer=dup)
    changelist = reverse("admin:customers_customer_changelist")
    base = {"action": "merge_customers", "_selected_action": [world.customer.pk, dup.pk]}
    confirm = rep_client.post(changelist, base)
    assert confirm.status_code == 200
    assert confirm.templates[0].name == "admin/console/merge_confirm.html"
    Customer.objects.get(pk=dup.pk)  # nothing merged yet
    assert Customer.objects.get(pk=dup.pk).merged_into_id is None

    done = rep_client.post(changelist, {**base, "confirm": "yes", "survivor": world.customer.pk})
    assert done.status_code == 302
    dup.refresh_from_db()
    assert (dup.merged_into_id, dup.active) == (world.customer.pk, False)
    assert Order.objects.get(pk=dup_order.pk).customer_id == world.customer.pk
    assert sorted(LogEntry.objects.values_list("object_id", "change_message")) == sorted(
        [
            (str(dup.pk), "Merged into C-100001"),
            (str(world.customer.pk), "Merged C-100002 into this customer"),
        ]
    )
