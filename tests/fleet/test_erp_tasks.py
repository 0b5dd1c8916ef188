"""ERP-facing services: task.delivery on a truck's tour, loading status, cancellation, split, homerun."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from fleet.models import Job, JobEvent, Tour
from fleet.services import (
    order_loading_status_apply,
    order_split_into_jobs,
    task_cancellation_apply,
    task_delivery_apply,
    task_homerun_apply,
)
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from oms.models import ErpSystem, OutboxMessage
from orders.models import CallOff, OrderEvent
from tests import factories as f

# 23:30 UTC is already the next day in Sofia (UTC+2): the tour is for the plant-local date.
PLANNED_AT = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


@pytest.fixture
def erp(db):
    return ErpSystem.objects.create(code="ERP1", is_default=True)


@pytest.mark.django_db
def test_task_delivery_with_truck_and_driver_creates_released_tour_for_plant_local_date(
    erp, order, plant, truck, driver
):
    job = task_delivery_apply(
        system=erp,
        order=order,
        ticket="ERP-T-1",
        lines=[{"position": 1, "quantity": "8.000"}],
        plant=plant,
        planned_at=PLANNED_AT,
        truck=truck,
        driver=driver,
    )
    job.refresh_from_db()
    tour = Tour.objects.get()
    assert (tour.date.isoformat(), tour.status, tour.truck_id, tour.driver_id) == (
        "2026-11-24",
        "released",
        truck.pk,
        driver.pk,
    )
    assert (job.ticket, job.status, job.tour_id, job.sequence) == ("ERP-T-1", "assigned", tour.pk, 1)
    assert [(m.type, m.system_id) for m in OutboxMessage.objects.order_by("created_at")] == [
        ("tour.status", erp.pk),
        ("job.details", erp.pk),
    ]
    order.refresh_from_db()
    assert order.status == "scheduled"

    # a resend of the same ticket re-plans, it does not duplicate
    again = task_delivery_apply(
        system=erp,
        order=order,
        ticket="ERP-T-1",
        lines=[{"position": 1, "quantity": "7.000"}],
        plant=plant,
        planned_at=PLANNED_AT,
        truck=truck,
        driver=driver,
    )
    assert Job.objects.count() == 1
    assert list(again.lines.values_list("planned", flat=True)) == [Decimal("7.000")]


@pytest.mark.django_db
def test_task_delivery_without_truck_waits_for_dispatch(erp, order, plant):
    job = task_delivery_apply(
        system=erp,
        order=order,
        ticket="ERP-T-2",
        lines=[{"position": 1, "quantity": "8"}],
        plant=plant,
        planned_at=PLANNED_AT,
    )
    assert (job.status, job.tour_id) == ("planned", None)
    assert not OutboxMessage.objects.exists()
    assert not Tour.objects.exists()


@pytest.mark.django_db
def test_task_delivery_unknown_position_writes_nothing(erp, order, plant):
    with pytest.raises(ValidationError):
        task_delivery_apply(
            system=erp,
            order=order,
            ticket="X",
            lines=[{"position": 9, "quantity": "1"}],
            plant=plant,
            planned_at=PLANNED_AT,
        )
    assert not Job.objects.exists()
    assert not OrderEvent.objects.exists()


@pytest.mark.django_db
def test_loading_status_marks_loading_started_and_moves_the_job(erp, order, plant, truck, driver):
    task_delivery_apply(
        system=erp,
        order=order,
        ticket="ERP-T-3",
        lines=[{"position": 1, "quantity": "8"}],
        plant=plant,
        planned_at=PLANNED_AT,
        truck=truck,
        driver=driver,
    )
    at = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    job = order_loading_status_apply(
        order=order, ticket="ERP-T-3", loading_status="batching", at=at, system=erp
    )
    order.refresh_from_db()
    assert (job.loading_status, job.status, order.loading_started_at, order.status) == (
        "batching",
        "assigned",
        at,
        "in_delivery",
    )
    job = order_loading_status_apply(
        order=order, ticket="ERP-T-3", loading_status="loaded", at=at, system=erp
    )
    assert (job.loading_status, job.status) == ("loaded", "loaded")
    # a repeated or older status changes nothing
    events = JobEvent.objects.count()
    for older in ("loading", "loaded"):
        order_loading_status_apply(order=order, ticket="ERP-T-3", loading_status=older, at=at, system=erp)
    job.refresh_from_db()
    assert (job.loading_status, job.status, JobEvent.objects.count()) == ("loaded", "loaded", events)
    # a loaded job has not left the plant: the ERP can still cancel it
    (cancelled,) = task_cancellation_apply(system=erp, order=order, reason="Pour called off")
    assert (cancelled.pk, cancelled.status) == (job.pk, "cancelled")


@pytest.mark.django_db
def test_cancellation_cancels_open_jobs(erp, order, plant):
    task_delivery_apply(
        system=erp,
        order=order,
        ticket="ERP-T-4",
        lines=[{"position": 1, "quantity": "8"}],
        plant=plant,
        planned_at=PLANNED_AT,
    )
    (job,) = task_cancellation_apply(system=erp, order=order, reason="Customer cancelled")
    assert job.status == "cancelled"
    assert OrderEvent.objects.filter(type="job.cancelled").count() == 1


@pytest.mark.django_db
def test_split_by_capacity_and_on_call_releases(plant, product):
    f.TruckFactory(plant=plant, capacity=Decimal("8.000"))
    order = f.OrderFactory(plant=plant)
    f.add_line(order, product, "20.000")
    jobs = order_split_into_jobs(order=order, actor=Actor.system())
    assert [list(j.lines.values_list("planned", flat=True)) for j in jobs] == [
        [Decimal("8.000")],
        [Decimal("8.000")],
        [Decimal("4.000")],
    ]
    with pytest.raises(InvalidTransition):
        order_split_into_jobs(order=order, actor=Actor.system())

    on_call = f.OrderFactory(plant=plant, on_call=True)
    f.add_line(on_call, product, "30.000", released="5.000")
    CallOff.objects.create(
        order=on_call, requested_at=PLANNED_AT, lines=[{"position": 1, "quantity": "5.000"}]
    )
    (job,) = order_split_into_jobs(order=on_call, actor=Actor.system())
    assert list(job.lines.values_list("planned", flat=True)) == [Decimal("5.000")]
    assert CallOff.objects.get().status == "scheduled"


@pytest.mark.django_db
def test_homerun_is_not_duplicated(erp, plant, truck, driver):
    first = task_homerun_apply(system=erp, truck=truck, plant=plant, planned_at=PLANNED_AT, driver=driver)
    second = task_homerun_apply(system=erp, truck=truck, plant=plant, planned_at=PLANNED_AT, driver=driver)
    assert first.pk == second.pk
    assert (first.type, first.status) == ("homerun", "assigned")
    assert Job.objects.count() == 1
