"""`Job.delivered_m3`, the per-load m³ the console dashboard sums, stays equal to the sum of the load's
m³ lines (recomputed here from the lines, as the dashboard once did) through a delivery with an EPOD,
a delivery without one, a failure, a redelivery and an amendment."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from catalog.models import Unit
from console.selectors import dashboard
from fleet.models import Job, JobLine, JobStatus, JobType
from fleet.selectors import driver_today
from fleet.services import job_assign, job_status_apply, order_split_into_jobs, tour_plan, tour_release
from fleet.services.common import driver_actor, plant_local_date
from fleet.services.delivery import delivery_amend, job_redeliver
from oms.lib.actors import Actor
from tests import factories as f
from tests.fleet.helpers import image_bytes, upload
from tests.helpers import driver_client

pytestmark = pytest.mark.django_db
DISPATCH = Actor(kind="user", name="dispatcher@oms.example")
D = Decimal


def recomputed(job: Job) -> Decimal:
    """The load's m³ from its lines."""
    total = JobLine.objects.filter(job=job, order_line__unit=Unit.M3).aggregate(m3=Sum("delivered"))["m3"]
    return total if total is not None else D("0.000")


def assert_in_step(*jobs: Job) -> list[Decimal]:
    """Each load's stored m³ equals its recomputed m³; returns the stored figures."""
    stored = []
    for job in jobs:
        job.refresh_from_db()
        assert job.delivered_m3 == recomputed(job), job.ticket
        stored.append(job.delivered_m3)
    return stored


def test_delivered_m3_follows_every_write_of_the_delivered_quantities(order, plant, truck, driver, product):
    f.add_line(order, product, "8.000")  # 16 m³: two loads of the truck's 8 m³
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    first, second = order_split_into_jobs(order=order, actor=DISPATCH)
    for job in (first, second):
        job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    by_driver = driver_actor(driver)
    t0 = timezone.now() - timedelta(hours=2)

    def drive(job: Job, minute: int, *statuses: str, **kwargs) -> None:
        for i, status in enumerate(statuses):
            at = t0 + timedelta(minutes=minute + i)
            job_status_apply(job=Job.objects.get(pk=job.pk), status=status, at=at, actor=by_driver, **kwargs)

    assert assert_in_step(first, second) == [D("0.000"), D("0.000")]

    # The first load: an EPOD for 7 m³ of the 8, then the driver's `delivered` (which changes nothing).
    drive(first, 0, "loading", "loaded", "en_route", "arrived", "unloading")
    epod = driver_client(driver).post(
        f"/api/v1/driver/jobs/{first.public_id}/epod/",
        {
            "received_by": "Site manager",
            "lat": "42.6977",
            "lon": "23.3219",
            "signature": upload("sig.png", image_bytes()),
            "signed_at": (t0 + timedelta(minutes=5)).isoformat(),
            "lines": json.dumps([{"position": 1, "delivered": "7.000"}]),
        },
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="epod-1",
    )
    assert epod.status_code == 201, epod.content
    assert assert_in_step(first, second) == [D("7.000"), D("0.000")]
    drive(first, 6, "delivered")
    assert assert_in_step(first, second) == [D("7.000"), D("0.000")]

    # The second load is rejected at the site and delivered again, as loaded (no EPOD).
    drive(second, 10, "loading", "loaded", "en_route", "arrived")
    drive(second, 14, "failed", reason="rejected_by_site")
    again = job_redeliver(job=Job.objects.get(pk=second.pk), actor=DISPATCH)
    job_assign(job=again, tour=tour, actor=DISPATCH)
    assert assert_in_step(first, second, again) == [D("7.000"), D("0.000"), D("0.000")]
    drive(again, 20, "loading", "loaded", "en_route", "arrived", "delivered")
    assert assert_in_step(first, second, again) == [D("7.000"), D("0.000"), D("8.000")]

    # A rep amends the first load: 7.5 m³ were placed.
    delivery_amend(job=first, position=1, delivered=D("7.5"), reason="Surveyor's measure", actor=DISPATCH)
    assert assert_in_step(first, second, again) == [D("7.500"), D("0.000"), D("8.000")]

    # The dashboard's m³ of the day: the loads' sum, and what the lines add up to.
    day = plant_local_date(plant, t0)
    assert dashboard(day=day, plant=plant).volume.m3 == {(plant.pk, day): D("15.500")}
    lines = JobLine.objects.filter(job__type=JobType.DELIVERY, order_line__unit=Unit.M3)
    assert lines.aggregate(m3=Sum("delivered"))["m3"] == D("15.500")
    assert Job.objects.get(pk=second.pk).status == JobStatus.FAILED
