"""A truck (or driver) cannot be on two active tours in overlapping windows: checked under locks."""

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from fleet.models import Job, JobEvent, Tour
from fleet.services import dispatch, job_assign, tour_plan
from fleet.services.dispatch import DRIVER_BUSY, TRUCK_BUSY, Busy, OverCapacity
from oms.lib.actors import Actor
from tests import factories as f

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")
DAY = datetime(2026, 11, 23, tzinfo=UTC).date()
N = 20


def window(start_hour: int, minutes: int = 0, hours: int = 4):
    start = datetime(2026, 11, 23, start_hour, minutes, tzinfo=UTC)
    return {"planned_start": start, "planned_end": start + timedelta(hours=hours)}


def setup_overlapping(n: int):
    plant = f.PlantFactory()
    truck = f.TruckFactory(plant=plant)
    product = f.ProductFactory(stocked=False)
    jobs, tours = [], []
    for i in range(n):
        tours.append(
            f.TourFactory(
                plant=plant, truck=truck, driver=f.DriverFactory(plant=plant), date=DAY, **window(8, i)
            )
        )
        order = f.OrderFactory(plant=plant)
        line = f.add_line(order, product, "6.000")
        job = f.JobFactory(plant=plant, order=order)
        f.JobLineFactory(job=job, order_line=line, planned=Decimal("6.000"))
        jobs.append(job)
    return jobs, tours


def assign_concurrently(jobs, tours):
    barrier = threading.Barrier(len(jobs))
    outcomes: list[str] = []

    def worker(job, tour):
        try:
            barrier.wait()
            job_assign(job=job, tour=tour, actor=DISPATCH)
            outcomes.append("ok")
        except Busy:
            outcomes.append("busy")
        except Exception as exc:  # noqa: BLE001
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=pair) for pair in zip(jobs, tours, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_assignments_of_one_truck_exactly_one_wins():
    jobs, tours = setup_overlapping(N)
    outcomes = assign_concurrently(jobs, tours)
    assert sorted(outcomes) == ["busy"] * (N - 1) + ["ok"]
    assigned = Job.objects.filter(status="assigned")
    assert assigned.count() == 1
    assert Tour.objects.filter(jobs__status="assigned").count() == 1
    assert JobEvent.objects.filter(type="job.assigned").count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_the_truck_lock_the_race_double_books(monkeypatch):
    """The same race with the locks removed and a pause after the check: the check alone is not enough."""
    jobs, tours = setup_overlapping(5)
    monkeypatch.setattr(dispatch, "lock_truck", lambda pk: dispatch.Truck.objects.get(pk=pk))
    monkeypatch.setattr(dispatch, "lock_driver", lambda pk: None)
    check = dispatch._check_free

    def slow_check(tour):
        check(tour)
        time.sleep(0.3)

    monkeypatch.setattr(dispatch, "_check_free", slow_check)
    outcomes = assign_concurrently(jobs, tours)
    assert outcomes.count("ok") > 1


@pytest.mark.django_db
def test_tour_plan_refuses_an_overlapping_active_tour_for_truck_and_driver():
    plant = f.PlantFactory()
    truck, driver = f.TruckFactory(plant=plant), f.DriverFactory(plant=plant)
    first = tour_plan(plant=plant, truck=truck, driver=driver, date=DAY, actor=DISPATCH, **window(8))
    Tour.objects.filter(pk=first.pk).update(status="released")
    with pytest.raises(Busy, match=TRUCK_BUSY):
        tour_plan(plant=plant, truck=truck, driver=None, date=DAY, actor=DISPATCH, **window(10))
    with pytest.raises(Busy, match=DRIVER_BUSY):
        tour_plan(
            plant=plant,
            truck=f.TruckFactory(plant=plant),
            driver=driver,
            date=DAY,
            actor=DISPATCH,
            **window(11),
        )
    assert Tour.objects.count() == 1
    # a later, non-overlapping window is fine
    later = tour_plan(plant=plant, truck=truck, driver=driver, date=DAY, actor=DISPATCH, **window(12))
    assert later.status == "planned"


@pytest.mark.django_db
def test_job_above_truck_capacity_is_refused():
    plant = f.PlantFactory()
    truck = f.TruckFactory(plant=plant, capacity=Decimal("8.000"))
    tour = f.TourFactory(plant=plant, truck=truck, date=DAY)
    order = f.OrderFactory(plant=plant)
    line = f.add_line(order, f.ProductFactory(), "9.000")
    job = f.JobFactory(plant=plant, order=order)
    f.JobLineFactory(job=job, order_line=line, planned=Decimal("9.000"))
    with pytest.raises(OverCapacity):
        job_assign(job=job, tour=tour, actor=DISPATCH)
    job.refresh_from_db()
    assert (job.status, job.tour_id) == ("planned", None)
    assert not JobEvent.objects.filter(type="job.assigned").exists()
