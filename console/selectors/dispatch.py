"""Reads of the dispatch board: tours of the day, jobs waiting for a truck, trucks on the map."""

from __future__ import annotations

from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404
from django.utils import timezone

from catalog.models import Plant
from console.selectors.common import CLOSED_JOB, day_end
from fleet import selectors as fleet_selectors
from fleet.models import Driver, Job, JobLine, JobStatus, Tour, TourStatus, Truck

NOT_DEPARTED = frozenset({JobStatus.PLANNED, JobStatus.ASSIGNED, JobStatus.LOADING, JobStatus.LOADED})
OPEN_TOURS = (TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED)
# A truck position older than this is shown as stale on the map.
STALE_POSITION = timedelta(minutes=10)
# Orders to plan shown per page of the board: a busy day has hundreds, and every row is a form.
PLAN_PAGE_SIZE = 25


def job_is_late(job: Job, now: datetime) -> bool:
    """Late: not yet left the plant after its planned time, or its ETA is past and it has not arrived."""
    if job.status in CLOSED_JOB:
        return False
    if job.planned_at and job.planned_at < now and job.status in NOT_DEPARTED:
        return True
    return bool(job.eta and job.eta < now and job.status == JobStatus.EN_ROUTE)


def default_board_plant() -> Plant | None:
    """The first active plant (by code): its local date is the board's default day."""
    return Plant.objects.filter(active=True).first()


def dispatch_board(
    *, date: Date, plant_id: int | None = None, plan_page: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Tours of the day per plant with their jobs, jobs waiting for a truck, trucks and their state,
    and one page (`plan_page`, the first when missing or out of range) of the orders to plan."""
    now = now or timezone.now()
    tours = _tours(date, plant_id, now)
    open_tours = [
        t for t in tours if t.status in (TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED)
    ]
    unassigned = _unassigned_jobs(date, plant_id, now, open_tours)
    busy_trucks: dict[int, Tour] = {}
    for tour in tours:
        if tour.status in OPEN_TOURS:
            busy_trucks.setdefault(tour.truck_id, tour)
    trucks = _trucks(plant_id, now, busy_trucks)
    plants: dict[int, dict[str, Any]] = {}
    for tour in tours:
        plants.setdefault(tour.plant_id, {"plant": tour.plant, "tours": []})["tours"].append(tour)
    drivers_qs = Driver.objects.filter(active=True).select_related("plant").order_by("code")
    if plant_id:
        drivers_qs = drivers_qs.filter(plant_id=plant_id)
    return {
        "date": date,
        "plants": list(plants.values()),
        "tours": tours,
        "unassigned": unassigned,
        "trucks": trucks,
        "drivers": list(drivers_qs),
        **_orders_to_plan_page(date, plant_id, plan_page),
        "late_count": sum(t.late_jobs for t in tours) + sum(j.late for j in unassigned),
    }


def _orders_to_plan_page(date: Date, plant_id: int | None, number: str | None) -> dict[str, Any]:
    """`orders_to_plan` (the rows of the page) and `plan_page` (the page, for its navigation)."""
    page: Page = Paginator(
        fleet_selectors.orders_to_plan(date=date, plant_id=plant_id), PLAN_PAGE_SIZE
    ).get_page(number)
    page.object_list = list(page.object_list)
    return {"orders_to_plan": page.object_list, "plan_page": page}


def _tours(date: Date, plant_id: int | None, now: datetime) -> list[Tour]:
    """The day's tours with their jobs; `late` on each job, `late_jobs` on each tour."""
    tours_qs = (
        Tour.objects.filter(date=date)
        .select_related("plant", "truck", "driver")
        .prefetch_related(
            Prefetch(
                "jobs",
                queryset=Job.objects.select_related("order__customer").order_by("sequence", "pk"),
            )
        )
        .order_by("plant__code", "planned_start", "number")
    )
    if plant_id:
        tours_qs = tours_qs.filter(plant_id=plant_id)
    tours = list(tours_qs)
    for tour in tours:
        tour.late_jobs = 0
        for job in tour.jobs.all():
            job.late = job_is_late(job, now)
            tour.late_jobs += job.late
    return tours


def _unassigned_jobs(date: Date, plant_id: int | None, now: datetime, open_tours: list[Tour]) -> list[Job]:
    """Planned jobs without a tour up to the day; `late`, `load` and the tours they may go on."""
    unassigned_qs = (
        Job.objects.filter(tour__isnull=True, status=JobStatus.PLANNED)
        .filter(Q(planned_at__lt=day_end(date)) | Q(planned_at__isnull=True))
        .select_related("order__customer", "plant")
        .prefetch_related(Prefetch("lines", queryset=JobLine.objects.select_related("order_line")))
        .order_by("planned_at", "pk")
    )
    if plant_id:
        unassigned_qs = unassigned_qs.filter(plant_id=plant_id)
    unassigned = list(unassigned_qs)
    for job in unassigned:
        job.late = job_is_late(job, now)
        job.load = sum((line.planned for line in job.lines.all()), start=0)
        job.tour_choices = [t for t in open_tours if t.plant_id == job.plant_id and t.driver_id]
    return unassigned


def _trucks(plant_id: int | None, now: datetime, busy_trucks: dict[int, Tour]) -> list[Truck]:
    """Active trucks with their open tour of the day (`tour_today`) and whether the position is stale."""
    trucks_qs = Truck.objects.filter(active=True).select_related("plant").order_by("plant__code", "code")
    if plant_id:
        trucks_qs = trucks_qs.filter(plant_id=plant_id)
    trucks = list(trucks_qs)
    for truck in trucks:
        truck.tour_today = busy_trucks.get(truck.pk)
        truck.stale = truck.last_position_at is None or truck.last_position_at < now - STALE_POSITION
    return trucks


def truck_positions(*, plant_id: int | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Last known position of every active truck, for the dispatch map."""
    now = now or timezone.now()
    qs = Truck.objects.filter(active=True, last_lat__isnull=False, last_lon__isnull=False).select_related(
        "plant"
    )
    if plant_id:
        qs = qs.filter(plant_id=plant_id)
    return [
        {
            "kind": "truck",
            "code": t.code,
            "lat": t.last_lat,
            "lon": t.last_lon,
            "plant": t.plant.code,
            "at": t.last_position_at.isoformat() if t.last_position_at else None,
            "stale": t.last_position_at is None or t.last_position_at < now - STALE_POSITION,
            "label": f"{t.code} ({t.plant.code})",
        }
        for t in qs.order_by("code")
    ]


def job_get(*, pk: int) -> Job:
    """The job with its order, or 404."""
    return get_object_or_404(Job.objects.select_related("order"), pk=pk)


def tour_with_truck(*, pk: int) -> Tour | None:
    """The tour with its truck, or None."""
    return Tour.objects.filter(pk=pk).select_related("truck").first()


def job_line_positions(*, job: Job) -> list[int]:
    """The order line positions a job carries."""
    return list(job.lines.order_by("order_line__position").values_list("order_line__position", flat=True))


def tour_get(*, pk: int) -> Tour:
    """The tour, or 404."""
    return get_object_or_404(Tour, pk=pk)
