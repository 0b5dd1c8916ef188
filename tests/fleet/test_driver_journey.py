"""A whole delivery through the driver API: events → positions → EPOD → order, stock, outbox, tracking."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.models import StockLevel
from fleet.models import Job, JobEvent, JobType, ProofOfDelivery, Tour
from fleet.selectors import driver_today
from fleet.services import job_assign, order_split_into_jobs, tour_plan, tour_release
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import OrderEvent
from tests import factories as f
from tests.fleet.helpers import image_bytes, upload
from tests.helpers import device_key, driver_client, token_client

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")


@pytest.fixture
def planned(order, plant, truck, driver):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    return tour, Job.objects.get(pk=job.pk)


def event(client, job, status, at, **extra):
    return client.post(
        f"/api/v1/driver/jobs/{job.public_id}/events/",
        {"status": status, "at": at.isoformat(), **extra},
        format="json",
    )


@pytest.mark.django_db
def test_driver_journey_delivers_the_order_and_tells_the_erp(order, plant, truck, driver, product, planned):
    tour, job = planned
    client = driver_client(driver)
    t0 = timezone.now() - timedelta(hours=2)

    # the driver sees today's tour with its job
    tours = client.get("/api/v1/driver/tours/").json()
    assert [(t["number"], t["status"], t["truck"], t["plant"]) for t in tours] == [
        (tour.number, "released", "TRK-07", "SOF1")
    ]
    (doc,) = tours[0]["jobs"]
    assert doc == {
        "id": str(job.public_id),
        "sequence": 1,
        "type": "delivery",
        "ticket": job.ticket,
        "status": "assigned",
        "loading_status": "not_started",
        "order": {"number": order.number},
        "site": {"name": "Block 7", "address": "ul. Vitosha 1", "lat": 42.6977, "lon": 23.3219},
        "lines": [{"position": 1, "sku": "C25-30", "quantity": "8.000"}],
        "eta": None,
    }

    assert event(client, job, "loading", t0).status_code == 200
    response = event(client, job, "loaded", t0 + timedelta(minutes=10))
    assert (response.status_code, response.json()["status"], response.json()["loading_status"]) == (
        200,
        "loaded",
        "loaded",
    )
    batch = {
        "batch_number": "B-1001",
        "recipe": "C25/30 S3",
        "batched_at": (t0 + timedelta(minutes=5)).isoformat(),
        "constituents": [{"material": "Cement", "target": "2800", "actual": "2812.5", "unit": "kg"}],
        "water_cement_ratio": "0.480",
        "slump_mm": 120,
    }
    assert (
        client.post(f"/api/v1/driver/jobs/{job.public_id}/batch-data/", batch, format="json").status_code
        == 201
    )
    assert event(client, job, "en_route", t0 + timedelta(minutes=12)).status_code == 200

    positions = [
        {
            "at": (t0 + timedelta(minutes=13 + i)).isoformat(),
            "lat": 42.70 - i * 0.0005,
            "lon": 23.30 + i * 0.0005,
        }
        for i in range(5)
    ]
    response = client.post(
        "/api/v1/driver/positions/", {"truck": "TRK-07", "positions": positions}, format="json"
    )
    assert (response.status_code, response.json()) == (202, {"accepted": 5, "rejected": []})
    truck.refresh_from_db()
    assert (truck.last_lat, truck.last_lon) == (positions[-1]["lat"], positions[-1]["lon"])
    job.refresh_from_db()
    assert job.eta is not None and job.eta > t0 + timedelta(minutes=17)

    # tracking while en route: job and truck position, nothing personal, no prices
    tracking = client.get(f"/api/v1/track/{order.tracking_token}/").json()
    assert tracking["jobs"] == [
        {
            "ticket": job.ticket,
            "status": "en_route",
            "eta": tracking["jobs"][0]["eta"],
            "truck_position": {
                "lat": positions[-1]["lat"],
                "lon": positions[-1]["lon"],
                "at": tracking["jobs"][0]["truck_position"]["at"],
            },
        }
    ]
    assert tracking["jobs"][0]["eta"] is not None
    text = json.dumps(tracking)
    for secret in ("Ivan", "Petrov", "ivan", "+359", "95.00", "Vitosha", "gross", "price"):
        assert secret not in text

    assert event(client, job, "arrived", t0 + timedelta(minutes=30)).status_code == 200
    assert event(client, job, "unloading", t0 + timedelta(minutes=32)).status_code == 200
    signed_at = t0 + timedelta(minutes=50)
    response = client.post(
        f"/api/v1/driver/jobs/{job.public_id}/epod/",
        {
            "received_by": "Site manager",
            "signature": upload("sig.png", image_bytes()),
            "lat": "42.6977",
            "lon": "23.3219",
            "signed_at": signed_at.isoformat(),
            "lines": json.dumps(
                [{"position": 1, "delivered": "7.500", "returned": "0.500", "reason": "Too much"}]
            ),
            "water_added_l": "20.0",
        },
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="epod-1",
    )
    assert response.status_code == 201, response.json()
    epod = ProofOfDelivery.objects.get()
    assert response.json() == {
        "id": str(epod.public_id),
        "job": str(job.public_id),
        "sha256": epod.sha256,
        "pdf_url": f"http://127.0.0.1:8000/api/v1/driver/epod/{epod.public_id}/pdf/",
    }

    # the order shows the delivered quantities; stock consumed
    order.refresh_from_db()
    line = order.lines.get()
    assert (line.loaded, line.delivered, line.returned, line.allocated) == (
        Decimal("8.000"),
        Decimal("7.500"),
        Decimal("0.500"),
        Decimal("0.500"),
    )
    assert order.status == "partially_delivered"
    assert order.loading_started_at == t0
    stock = StockLevel.objects.get(plant=plant, product=product)
    assert (stock.on_hand, stock.allocated) == (Decimal("92.500"), Decimal("0.500"))
    job.refresh_from_db()
    assert (job.status, job.delivered_at) == ("delivered", signed_at)

    # the homerun closes the loop and completes the tour
    homerun = Job.objects.get(type=JobType.HOMERUN)
    assert (homerun.tour_id, homerun.sequence, homerun.status) == (tour.pk, 2, "assigned")
    assert event(client, homerun, "en_route", t0 + timedelta(minutes=55)).status_code == 200
    assert event(client, homerun, "arrived", t0 + timedelta(minutes=80)).status_code == 200
    assert event(client, homerun, "delivered", t0 + timedelta(minutes=81)).status_code == 200
    tour.refresh_from_db()
    assert tour.status == "completed"

    outbox = list(OutboxMessage.objects.order_by("created_at"))
    assert [(m.type, m.aggregate_type, m.aggregate_id) for m in outbox] == [
        ("job.details", "job", job.ticket),
        ("tour.status", "tour", tour.number),
        ("tour.status", "tour", tour.number),
        ("item.positions", "order", order.number),
        ("batch.data", "job", job.ticket),
        ("shipment.info", "job", job.ticket),
        ("delivery.confirmation", "job", job.ticket),
        ("epod", "job", job.ticket),
        ("item.positions", "order", order.number),
        ("job.details", "job", homerun.ticket),
        ("tour.status", "tour", tour.number),
    ]
    assert [m.sequence for m in outbox if m.aggregate_id == job.ticket] == [1, 2, 3, 4, 5]
    assert [m.payload["status"] for m in outbox if m.type == "tour.status"] == [
        "released",
        "started",
        "completed",
    ]
    details = outbox[0].payload
    assert details == {
        "order": order.number,
        "ticket": job.ticket,
        "type": "delivery",
        "tour": tour.number,
        "truck": "TRK-07",
        "driver": "DRV-01",
        "plant": "SOF1",
        "planned_at": None,
        "lines": [{"position": 1, "sku": "C25-30", "quantity": "8.000"}],
    }
    assert outbox[3].payload["lines"] == [
        {
            "position": 1,
            "ordered": "8.000",
            "allocated": "8.000",
            "loaded": "8.000",
            "delivered": "0.000",
            "returned": "0.000",
            "cancelled": "0.000",
        }
    ]
    assert outbox[5].payload == {
        "ticket": job.ticket,
        "loaded_at": (t0 + timedelta(minutes=10)).isoformat(),
        "departed_at": (t0 + timedelta(minutes=12)).isoformat(),
        "lines": [{"position": 1, "loaded": "8.000"}],
    }
    assert outbox[6].payload == {
        "ticket": job.ticket,
        "order": order.number,
        "delivered_at": signed_at.isoformat(),
        "lines": [{"position": 1, "delivered": "7.500", "returned": "0.500"}],
    }
    assert outbox[7].payload == {
        "ticket": job.ticket,
        "received_by": "Site manager",
        "signed_at": signed_at.isoformat(),
        "lat": 42.6977,
        "lon": 23.3219,
        "sha256": epod.sha256,
        "pdf_url": response.json()["pdf_url"],
        "water_added_l": "20.0",
        "remarks": "",
    }
    assert outbox[8].payload["lines"][0] == {
        "position": 1,
        "ordered": "8.000",
        "allocated": "0.500",
        "loaded": "8.000",
        "delivered": "7.500",
        "returned": "0.500",
        "cancelled": "0.000",
    }
    assert outbox[4].payload["ticket"] == job.ticket and outbox[4].payload["batch_number"] == "B-1001"

    # the order timeline, in order
    assert list(
        OrderEvent.objects.filter(order=order).order_by("at", "pk").values_list("type", "data__to")
    ) == [
        ("order.jobs_planned", None),
        ("job.assigned", None),
        ("order.status_changed", "scheduled"),
        ("order.loading_started", None),
        ("order.status_changed", "in_delivery"),
        ("job.loading", None),
        ("job.loaded", None),
        ("job.batch_data", None),
        ("job.en_route", None),
        ("job.arrived", None),
        ("job.unloading", None),
        ("epod.received", None),
        ("delivery.confirmed", None),
        ("job.delivered", None),
        ("order.status_changed", "partially_delivered"),
    ]
    assert list(JobEvent.objects.filter(job=job).order_by("pk").values_list("type", flat=True)) == [
        "job.created",
        "job.assigned",
        "job.loading",
        "job.loading_status",
        "job.loaded",
        "job.loading_status",
        "job.en_route",
        "job.arrived",
        "job.unloading",
        "job.delivered",
    ]
    assert Tour.objects.get().version == 4


@pytest.mark.django_db
def test_late_event_is_recorded_without_moving_the_job(planned, driver):
    _, job = planned
    client = driver_client(driver)
    t0 = timezone.now() - timedelta(hours=1)
    event(client, job, "loading", t0)
    event(client, job, "loaded", t0 + timedelta(minutes=10))
    response = event(client, job, "loading", t0 + timedelta(minutes=5))
    assert (response.status_code, response.json()["status"]) == (200, "loaded")
    late = JobEvent.objects.filter(job=job).order_by("-pk").first()
    assert (late.type, late.applied, late.data) == (
        "job.loading",
        False,
        {"reason": "late", "current": "loaded"},
    )
    job.refresh_from_db()
    assert (job.status, job.last_event_at) == ("loaded", t0 + timedelta(minutes=10))


@pytest.mark.django_db
def test_current_event_not_allowed_is_409_and_writes_nothing(planned, driver):
    _, job = planned
    client = driver_client(driver)
    t0 = timezone.now() - timedelta(hours=1)
    event(client, job, "loading", t0)
    events, outbox = JobEvent.objects.count(), OutboxMessage.objects.count()
    response = event(client, job, "delivered", t0 + timedelta(minutes=1))
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    assert (JobEvent.objects.count(), OutboxMessage.objects.count()) == (events, outbox)
    job.refresh_from_db()
    assert job.status == "loading"


@pytest.mark.django_db
def test_another_drivers_job_is_404(planned, plant):
    _, job = planned
    other = driver_client(f.DriverFactory(plant=plant))
    assert other.get(f"/api/v1/driver/jobs/{job.public_id}/").status_code == 404
    response = event(other, job, "loading", timezone.now())
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not JobEvent.objects.filter(job=job, type="job.loading").exists()


@pytest.mark.django_db
def test_device_key_on_driver_endpoint_is_403_and_no_key_401(plant):
    from orders.models import SalesPoint

    anonymous = token_client(None).get("/api/v1/driver/tours/")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "not_authenticated")
    point = SalesPoint.objects.create(code="KIOSK-1", name="Kiosk", channel="kiosk", plant=plant)
    device = token_client(device_key(point, name=""))
    response = device.get("/api/v1/driver/tours/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
