"""A delivery day, only through the public surfaces: the operations CLI, the signed ERP webhook, the
kiosk and driver REST API, the portal and console pages, and the relay to a fake ERP on loopback.

A 60 m³ on-call pour in 8 m³ loads: the customer's call-offs in the portal, a rep's on the phone, a
pause and a resume with spacing, one load rejected at the site and delivered again, a delivered
quantity amended after its EPOD, a return pickup ordered by the ERP, messages in every direction,
and a second order cancelled after its first load left the plant.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from fleet.models import Driver, Job, Tour, Truck
from orders.models import Order
from tests.fleet.helpers import image_bytes, upload
from tests.scenario import console_post, day_fixture  # noqa: F401 - the `day` fixture

pytestmark = pytest.mark.django_db
D = Decimal


def test_a_delivery_day_through_the_public_surfaces(day):  # noqa: PLR0915 - one day, told in order
    rep = day.login("rep@oms.example", "rep")
    dispatcher = day.login("dispatcher@oms.example", "dispatcher")

    # 07:00 — the site foreman orders the pour at the kiosk: 60 m³, on call.
    customer = day.post(
        day.kiosk,
        "/api/v1/customers/",
        {"name": "Stroy OOD", "email": "site@stroy.example", "kind": "company"},
    ).json()
    site = {
        "name": "Block 7",
        "address": "ul. Vitosha 1",
        "city": "Sofia",
        "postcode": "1000",
        "country": "BG",
        "lat": 42.6977,
        "lon": 23.3219,
    }
    created = day.post(
        day.kiosk,
        "/api/v1/orders/",
        {
            "customer": {"id": customer["id"]},
            "fulfilment": "delivery",
            "site": site,
            "on_call": True,
            "lines": [{"sku": "C25-30", "quantity": "60.000"}],
        },
    )
    assert created.status_code == 201, created.content
    number = created.json()["number"]
    order = Order.objects.get(number=number)
    foreman = day.login("site@stroy.example", "customer", "--customer", customer["number"])

    # The ERP acknowledges it.
    day.push(("order.ack", ("order", number), {"order": number, "erp_order": "SO-4711"}))
    order.refresh_from_db()
    assert (order.status, order.erp_order_number) == ("confirmed", "SO-4711")

    # First call-off in the portal: two loads. Too much is refused with what is left.
    too_much = day.post(
        day.kiosk, f"/api/v1/orders/{number}/call-off/", {"lines": [{"position": 1, "quantity": "61.000"}]}
    )
    assert too_much.status_code == 422
    assert (too_much.json()["code"], too_much.json()["remaining"]) == (
        "call_off_exceeds_remaining",
        [{"position": 1, "remaining": "60.000"}],
    )
    response = foreman.post(reverse("portal:order-call-off", args=[number]), {"line_1": "16"})
    assert response.status_code == 302

    # The dispatcher plans a tour, splits the call-off into loads, assigns and releases.
    board = dispatcher.get(reverse("admin:console-dispatch"))
    assert [(o.number, o.to_plan) for o in board.context["orders_to_plan"]] == [(number, D("16.000"))]
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
    assert console_post(dispatcher, "console-order-split", order.pk) == ["Jobs created."]

    def assign_all():
        for job in Job.objects.filter(order=order, tour__isnull=True).order_by("pk"):
            console_post(dispatcher, "console-job-assign", job.pk, {"tour": tour.pk})

    assign_all()
    assert console_post(dispatcher, "console-tour-release", tour.pk) == [f"Tour {tour.number} released."]
    load1, load2 = Job.objects.filter(order=order).order_by("pk")
    assert day.tour_jobs() == [(load1.ticket, "assigned"), (load2.ticket, "assigned")]

    # Load 1 is delivered with an EPOD.
    day.drive(load1, 1, "loading", "loaded", "en_route", "arrived")
    epod = day.post(
        day.driver,
        f"/api/v1/driver/jobs/{load1.public_id}/epod/",
        {
            "received_by": "Foreman Petrov",
            "signature": upload("sig.png", image_bytes()),
            "lat": "42.6977",
            "lon": "23.3219",
            "signed_at": (day.t0 + timedelta(minutes=6)).isoformat(),
            "lines": json.dumps([{"position": 1, "delivered": "8.000"}]),
        },
        multipart=True,
    )
    assert epod.status_code == 201, epod.content

    # A rep takes a second call-off on the phone; the foreman pauses (rain), then resumes spaced.
    assert console_post(rep, "console-order-call-off", order.pk, {"qty_1": "16"}) == ["Loads called off."]
    response = foreman.post(
        reverse("portal:order-pacing", args=[number]), {"action": "pause", "reason": "Rain"}
    )
    assert response.status_code == 302
    board = dispatcher.get(reverse("admin:console-dispatch"))
    (row,) = board.context["orders_to_plan"]
    assert (row.to_plan, row.called_off, row.left, row.loads_paused) == (
        D("16.000"),
        D("32.000"),
        D("28.000"),
        True,
    )
    assert console_post(dispatcher, "console-order-split", order.pk) == [
        "The customer paused the remaining loads of this order."
    ]
    paused_twice = day.post(day.kiosk, f"/api/v1/orders/{number}/pause/", {})
    assert (paused_twice.status_code, paused_twice.json()["code"]) == (409, "invalid_transition")
    foreman.post(reverse("portal:order-pacing", args=[number]), {"action": "resume", "spacing_minutes": "30"})
    assert console_post(dispatcher, "console-order-split", order.pk) == ["Jobs created."]
    assign_all()
    load3, load4 = Job.objects.filter(order=order).order_by("pk")[2:]
    assert load4.planned_at - load3.planned_at == timedelta(minutes=30)

    # Load 2 is rejected at the site; the dispatcher sends it again; it is delivered without EPOD.
    day.drive(load2, 10, "loading", "loaded", "en_route", "arrived")
    bad_reason = day.event(load2, "failed", 14, reason="weather")
    assert bad_reason.status_code == 400
    failed = day.event(
        load2,
        "failed",
        14,
        reason="rejected_by_site",
        note="Slump too high",
        returned=[{"position": 1, "quantity": "8.000"}],
    )
    assert failed.status_code == 200
    assert console_post(dispatcher, "console-job-redeliver", load2.pk) == [
        f"Redelivery of {load2.ticket} planned."
    ]
    assign_all()
    load5 = Job.objects.get(redelivery_of=load2)
    # The driver's tour now: the delivered load, the failed one, the two paced loads and the redelivery.
    assert day.tour_jobs() == [
        (load1.ticket, "delivered"),
        (load2.ticket, "failed"),
        (load3.ticket, "assigned"),
        (load4.ticket, "assigned"),
        (load5.ticket, "assigned"),
    ]
    day.drive(load5, 20, "loading", "loaded", "en_route", "arrived", "delivered")
    day.drive(load3, 30, "loading", "loaded", "en_route", "arrived", "unloading", "delivered")

    # Messages: a rep writes to the driver, the driver answers, the foreman writes.
    console_post(
        rep, "console-order-message", order.pk, {"to": "driver", "job": load4.pk, "body": "Use gate 2"}
    )
    assert (
        day.post(
            day.driver, "/api/v1/driver/messages/", {"job": str(load4.public_id), "body": "OK, gate 2"}
        ).status_code
        == 201
    )
    foreman.post(reverse("portal:order-messages", args=[number]), {"body": "Pump moved to the north side"})

    # A rep amends load 1 after its EPOD: 7.5 m³ were actually placed.
    bad = console_post(rep, "console-job-amend", load2.pk, {"position": 1, "delivered": "7", "reason": "x"})
    assert bad == ["Only the quantity of a delivered load can be amended."]
    assert console_post(
        rep,
        "console-job-amend",
        load1.pk,
        {"position": 1, "delivered": "7.5", "reason": "Surveyor's measure"},
    ) == [f"Delivered quantity of {load1.ticket} amended."]

    # Load 4 is delivered. The ERP orders a return pickup of 1 m³ of surplus material.
    day.drive(load4, 40, "loading", "loaded", "en_route", "arrived", "delivered")
    day.push(
        (
            "task.return",
            ("order", number),
            {"order": number, "lines": [{"position": 1, "quantity": "1.000"}], "reason": "Surplus"},
        )
    )
    pickup = Job.objects.get(order=order, type="return_pickup")
    console_post(dispatcher, "console-job-assign", pickup.pk, {"tour": tour.pk})
    day.drive(pickup, 50, "en_route", "arrived", "delivered")

    # A second order: two loads, cancelled after the first left the plant.
    second = day.post(
        day.kiosk,
        "/api/v1/orders/",
        {
            "customer": {"id": customer["id"]},
            "fulfilment": "delivery",
            "site": site,
            "lines": [{"sku": "C25-30", "quantity": "16.000"}],
        },
    )
    other = Order.objects.get(number=second.json()["number"])
    console_post(dispatcher, "console-order-split", other.pk)
    for job in Job.objects.filter(order=other).order_by("pk"):
        console_post(dispatcher, "console-job-assign", job.pk, {"tour": tour.pk})
    left, waiting = Job.objects.filter(order=other).order_by("pk")
    day.drive(left, 60, "loading", "loaded", "en_route")
    asked = day.post(day.kiosk, f"/api/v1/orders/{other.number}/cancel/", {"reason": "Site closed"})
    assert asked.json()["status"] == "cancellation_requested"
    console_post(rep, "console-order-cancel-approve", other.pk, {"reason": "Approved by phone", "qty_1": "8"})
    refused = day.event(waiting, "loading", 64)
    assert (refused.status_code, refused.json()["code"]) == (409, "invalid_transition")

    # The driver's inbox: the rep's message, their own answer and the two cancellation notices, but
    # not the foreman's message to the office. Reading one is recorded once.
    inbox = day.driver.get("/api/v1/driver/messages/").json()
    said = [(m["from"]["kind"], m["body"]) for m in inbox]
    assert ("rep", "Use gate 2") in said and ("driver", "OK, gate 2") in said
    assert ("system", f"Load {waiting.ticket} ({other.number}) is cancelled: Approved by phone.") in said
    assert ("system", f"Order {other.number} is cancelled: bring load {left.ticket} back.") in said
    assert all(body != "Pump moved to the north side" for _, body in said)
    gate = next(m for m in inbox if m["body"] == "Use gate 2")
    first_read = day.post(day.driver, f"/api/v1/driver/messages/{gate['id']}/read/", {}).json()["read_at"]
    again = day.post(day.driver, f"/api/v1/driver/messages/{gate['id']}/read/", {}).json()["read_at"]
    assert first_read is not None and again == first_read

    day.relay()

    # --- where the day ended -------------------------------------------------------------------
    order.refresh_from_db()
    other.refresh_from_db()
    line = order.lines.get()
    assert (order.status, order.loads_paused, order.load_spacing_minutes) == (
        "partially_delivered",
        False,
        30,
    )
    assert (line.quantity, line.released, line.delivered, line.returned) == (
        D("60.000"),
        D("32.000"),
        D("31.500"),
        D("1.000"),
    )
    assert [
        (j.ticket, j.type, j.status, j.failure_reason) for j in Job.objects.filter(order=order).order_by("pk")
    ] == [
        (load1.ticket, "delivery", "delivered", ""),
        (load2.ticket, "delivery", "failed", "rejected_by_site"),
        (load3.ticket, "delivery", "delivered", ""),
        (load4.ticket, "delivery", "delivered", ""),
        (load5.ticket, "delivery", "delivered", ""),
        (pickup.ticket, "return_pickup", "delivered", ""),
    ]
    assert other.status == "cancelled"
    assert [(j.status, j.failure_reason) for j in Job.objects.filter(order=other).order_by("pk")] == [
        ("failed", "order_cancelled"),
        ("cancelled", ""),
    ]
    # At the end of the day the driver's tour lists every load but the cancelled one.
    on_tour = dict(day.tour_jobs())
    assert waiting.ticket not in on_tour
    assert [on_tour[j.ticket] for j in (load1, load2, load3, load4, load5, pickup, left)] == [
        "delivered",
        "failed",
        "delivered",
        "delivered",
        "delivered",
        "delivered",
        "failed",
    ]

    # Every message reached the fake ERP, in sequence per aggregate.
    got = [(m["type"], m["entity"]["key"]) for m in day.erp.delivered()]
    assert day.erp.reordered_aggregates() == []
    assert ("order.created", number) in got and ("order.created", other.number) in got
    assert got.count(("call.request", number)) == 2
    assert ("order.pacing", number) in got
    assert ("delivery.failed", load2.ticket) in got
    assert [t for t, key in got if key == load1.ticket].count("delivery.confirmation") == 1
    assert ("epod", load1.ticket) in got
    assert ("delivery.confirmation", load5.ticket) in got
    assert ("order.correction", number) in got
    assert ("return.received", number) in got
    assert ("job.cancelled", waiting.ticket) in got and ("delivery.failed", left.ticket) in got
    assert ("order.cancelled", other.number) in got
    correction = next(m for m in day.erp.delivered("order.correction") if m["entity"]["key"] == number)
    assert correction["data"]["lines"] == [
        {"position": 1, "field": "delivered", "old": "8.000", "new": "7.500", "reason": "Surveyor's measure"}
    ]

    # The customer's timeline tells the day.
    detail = day.kiosk.get(f"/api/v1/orders/{number}/").json()
    types = [event["type"] for event in detail["events"]]
    for expected in (
        "order.placed",
        "order.confirmed",
        "order.call_off",
        "order.loads_paused",
        "order.loads_resumed",
        "epod.received",
        "job.failed",
        "delivery.amended",
        "return.goods_received",
    ):
        assert expected in types, expected

    # Each load's m³ (what the dashboard sums) is its lines' delivered m³: amended, redelivered, picked up.
    loads = Job.objects.filter(order__number=number).order_by("pk")
    assert [(job.ticket, job.delivered_m3) for job in loads] == [
        (job.ticket, job.lines.filter(order_line__unit="m3").aggregate(m3=Sum("delivered"))["m3"])
        for job in loads
    ]
    m3 = dict(
        Job.objects.filter(pk__in=[load1.pk, load2.pk, load5.pk, pickup.pk]).values_list("pk", "delivered_m3")
    )
    assert [m3[load1.pk], m3[load2.pk], m3[load5.pk], m3[pickup.pk]] == [
        D("7.500"),
        D("0.000"),
        D("8.000"),
        D("1.000"),
    ]
