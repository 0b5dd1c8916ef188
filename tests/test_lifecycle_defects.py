"""One test per hole of the delivery lifecycle that the team found (each failed before 0.2), through the
same public surfaces as the delivery day. Failure paths assert that nothing was written."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from fleet.models import CallRequest, DeliveryAmendment, Driver, Job, Tour, Truck
from oms.models import OutboxMessage
from orders.models import Order, ReturnRequest
from tests.scenario import Day, console_post, day_fixture  # noqa: F401 - the `day` fixture

pytestmark = pytest.mark.django_db
D = Decimal
SITE = {
    "name": "Block 7",
    "address": "ul. Vitosha 1",
    "city": "Sofia",
    "postcode": "1000",
    "country": "BG",
    "lat": 42.6977,
    "lon": 23.3219,
}


def place(day: Day, quantity: str, *, on_call: bool = False) -> Order:
    customer = day.post(day.kiosk, "/api/v1/customers/", {"name": "Stroy OOD", "kind": "company"}).json()
    response = day.post(
        day.kiosk,
        "/api/v1/orders/",
        {
            "customer": {"id": customer["id"]},
            "fulfilment": "delivery",
            "site": SITE,
            "on_call": on_call,
            "lines": [{"sku": "C25-30", "quantity": quantity}],
        },
    )
    assert response.status_code == 201, response.content
    return Order.objects.get(number=response.json()["number"])


def planned_on_a_released_tour(day: Day, order: Order) -> tuple[Tour, list[Job]]:
    dispatcher = day.login("dispatcher@oms.example", "dispatcher")
    dispatcher.post(
        reverse("admin:console-tour-plan"),
        {
            "truck": Truck.objects.get(code="TRK-1").pk,
            "driver": Driver.objects.get(code="DRV-1").pk,
            "date": day.today().isoformat(),
        },
        follow=True,
    )
    tour = Tour.objects.get()
    console_post(dispatcher, "console-order-split", order.pk)
    jobs = list(Job.objects.filter(order=order).order_by("pk"))
    for job in jobs:
        console_post(dispatcher, "console-job-assign", job.pk, {"tour": tour.pk})
    console_post(dispatcher, "console-tour-release", tour.pk)
    return tour, jobs


def outbox(type_: str) -> list[dict]:
    return [m.payload for m in OutboxMessage.objects.filter(type=type_).order_by("created_at", "sequence")]


def test_1_a_cancelled_order_takes_its_loads_off_the_truck(day):
    order = place(day, "8")
    _tour, (job,) = planned_on_a_released_tour(day, order)
    assert day.tour_jobs() == [(job.ticket, "assigned")]

    cancelled = day.post(day.kiosk, f"/api/v1/orders/{order.number}/cancel/", {"reason": "Plans changed"})

    assert cancelled.json()["status"] == "cancelled"
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert day.tour_jobs() == []
    refused = day.event(job, "loading", 1)
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")
    assert [(p["ticket"], p["order"], p["reason"]) for p in outbox("job.cancelled")] == [
        (job.ticket, order.number, "Plans changed")
    ]


def test_2_delivered_without_epod_confirms_the_load_and_a_failed_load_says_why(day):
    order = place(day, "16")
    _tour, (first, second) = planned_on_a_released_tour(day, order)

    day.drive(first, 1, "loading", "loaded", "en_route", "arrived", "delivered")
    day.drive(second, 10, "loading", "loaded", "en_route", "arrived")
    unknown = day.event(second, "failed", 14, reason="aliens")
    second.refresh_from_db()
    assert (unknown.status_code, second.status) == (400, "arrived")
    day.event(second, "failed", 15, reason="pump_failure", returned=[{"position": 1, "quantity": "6.000"}])

    order.refresh_from_db()
    line = order.lines.get()
    assert (order.status, line.delivered, line.loaded) == ("partially_delivered", D("8.000"), D("8.000"))
    assert outbox("delivery.confirmation")[0]["lines"] == [
        {"position": 1, "delivered": "8.000", "returned": "0.000"}
    ]
    (failed,) = outbox("delivery.failed")
    assert (failed["ticket"], failed["reason"], failed["lines"]) == (
        second.ticket,
        "pump_failure",
        [{"position": 1, "loaded": "8.000", "returned": "6.000"}],
    )


def test_3_a_later_call_off_reaches_the_dispatch_board(day):
    order = place(day, "60", on_call=True)
    day.post(
        day.kiosk, f"/api/v1/orders/{order.number}/call-off/", {"lines": [{"position": 1, "quantity": "8"}]}
    )
    planned_on_a_released_tour(day, order)
    dispatcher = day.login("dispatcher@oms.example", "dispatcher")
    assert dispatcher.get(reverse("admin:console-dispatch")).context["orders_to_plan"] == []

    day.post(
        day.kiosk, f"/api/v1/orders/{order.number}/call-off/", {"lines": [{"position": 1, "quantity": "16"}]}
    )

    (row,) = dispatcher.get(reverse("admin:console-dispatch")).context["orders_to_plan"]
    assert (row.number, row.to_plan, row.called_off, row.left) == (
        order.number,
        D("16.000"),
        D("24.000"),
        D("36.000"),
    )


def test_5_an_erp_return_task_serves_a_return_request_and_completes_it(day):
    order = place(day, "8")
    _tour, (job,) = planned_on_a_released_tour(day, order)
    day.drive(job, 1, "loading", "loaded", "en_route", "arrived", "delivered")

    day.push(
        (
            "task.return",
            ("order", order.number),
            {"order": order.number, "reason": "Surplus", "lines": [{"position": 1, "quantity": "2.000"}]},
        )
    )
    ret = ReturnRequest.objects.get(order=order)
    pickup = Job.objects.get(type="return_pickup")
    assert (ret.status, pickup.return_request_id) == ("pickup_scheduled", ret.pk)
    dispatcher = day.login("dispatcher@oms.example", "dispatcher")
    console_post(dispatcher, "console-job-assign", pickup.pk, {"tour": Tour.objects.get().pk})
    day.drive(pickup, 20, "en_route", "arrived", "delivered")

    ret.refresh_from_db()
    assert (ret.status, ret.lines.get().received, order.lines.get().returned) == (
        "received",
        D("2.000"),
        D("2.000"),
    )
    assert outbox("return.received") == [
        {
            "order": order.number,
            "return": ret.number,
            "ticket": pickup.ticket,
            "lines": [{"position": 1, "quantity": "2.000", "received": "2.000"}],
        }
    ]


def test_6_every_call_request_status_reaches_the_erp(day):
    order = place(day, "8")
    rep = day.login("rep@oms.example", "rep")
    foreman_phone = {"phone": "+359888123456", "reason": "When is the truck coming?"}
    customer = day.login("site@stroy.example", "customer", "--customer", order.customer.number)
    customer.post(reverse("portal:order-callback", args=[order.number]), foreman_phone)
    call = CallRequest.objects.get()

    console_post(rep, "console-callback-start", call.pk)
    console_post(rep, "console-callback-done", call.pk, {"outcome": "Told 10:30"})

    assert [(p["status"], p.get("outcome")) for p in outbox("call.request")] == [
        ("open", None),
        ("in_progress", None),
        ("done", "Told 10:30"),
    ]


def test_7_the_erp_decides_a_pending_cancellation_and_orders_one_without_a_rep(day):
    order = place(day, "16")
    _tour, (first, second) = planned_on_a_released_tour(day, order)
    day.drive(first, 1, "loading", "loaded", "en_route")
    day.post(day.kiosk, f"/api/v1/orders/{order.number}/cancel/", {"reason": "Site flooded"})

    day.push(
        (
            "order.cancel_decision",
            ("order", order.number),
            {"order": order.number, "decision": "refused", "reason": "Load already poured"},
        )
    )
    order.refresh_from_db()
    assert order.status == "in_delivery"

    other = place(day, "8")
    dispatcher = day.login("dispatcher@oms.example", "dispatcher")
    console_post(dispatcher, "console-order-split", other.pk)
    (load,) = Job.objects.filter(order=other)
    console_post(dispatcher, "console-job-assign", load.pk, {"tour": Tour.objects.get().pk})
    day.drive(load, 20, "loading", "loaded")
    day.push(("task.cancellation", ("order", other.number), {"order": other.number, "reason": "Credit stop"}))

    other.refresh_from_db()
    load.refresh_from_db()
    assert (other.status, load.status) == ("cancelled", "cancelled")
    assert outbox("order.cancelled")[-1]["returned"] == [{"position": 1, "quantity": "8.000"}]


def test_8_a_delivered_quantity_is_amended_and_the_epod_stays(day):
    order = place(day, "8")
    _tour, (job,) = planned_on_a_released_tour(day, order)
    day.drive(job, 1, "loading", "loaded", "en_route", "arrived", "delivered")
    rep = day.login("rep@oms.example", "rep")

    too_much = console_post(
        rep, "console-job-amend", job.pk, {"position": 1, "delivered": "9", "reason": "x"}
    )
    assert too_much == ["The delivered quantity must be between 0 and 8.000."]
    assert DeliveryAmendment.objects.count() == 0
    console_post(rep, "console-job-amend", job.pk, {"position": 1, "delivered": "7.25", "reason": "Measured"})

    (amendment,) = DeliveryAmendment.objects.all()
    assert (amendment.old, amendment.new, amendment.by, amendment.reason) == (
        D("8.000"),
        D("7.250"),
        "rep@oms.example",
        "Measured",
    )
    assert order.lines.get().delivered == D("7.250")
    assert outbox("order.correction")[-1]["lines"] == [
        {"position": 1, "field": "delivered", "old": "8.000", "new": "7.250", "reason": "Measured"}
    ]
    order.refresh_from_db()
    job.refresh_from_db()
    assert (order.status, job.status, job.lines.get().delivered) == (
        "delivered",
        "delivered",
        D("7.250"),
    )
    assert timezone.now() - timedelta(minutes=5) < amendment.at <= timezone.now()
