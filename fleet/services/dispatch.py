"""Dispatch: split orders into jobs, plan and release tours, assign, homeruns, cancel.

Signatures (keyword-only; each is one transaction: lock → check → change → events → outbox):

- `order_split_into_jobs(*, order, actor, planned_at=None, capacity=None) -> list[Job]`
  New `planned` delivery jobs for what is still unplanned of the order, each at most one truck load
  (`capacity`, default: the largest active truck of the plant). On-call orders plan only what the
  customer released (`OrderLine.released`); open call-offs become `scheduled`.
- `tour_plan(*, plant, truck, driver, date, actor, planned_start=None, planned_end=None) -> Tour`
- `tour_release(*, tour, actor) -> Tour` — the driver sees it from now on; `tour.status` to the ERP.
- `job_assign(*, job, tour, actor, sequence=None) -> Job` — `planned → assigned` on the tour's
  truck and driver; refuses a load above the truck's capacity and a truck or driver that is on
  another active tour of that date in an overlapping window; `job.details` to the ERP; the order
  becomes `scheduled`.
- `job_create_homerun(*, tour, actor, planned_at=None, ticket=None) -> Job` — the trip back to the
  plant at the end of the tour (at most one open homerun per tour; a second call returns it).
- `job_cancel(*, job, actor, reason="") -> Job` — before departure only.

A tour is *active* when released or started, or planned with at least one job that is not
cancelled (an empty planned tour is a draft and blocks nothing). Windows overlap when they
intersect; a tour without a planned window covers its whole date.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date as Date
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from catalog.models import Plant
from fleet.models import Driver, Job, JobEvent, JobLine, JobStatus, JobType, Tour, TourStatus, Truck
from fleet.services.common import (
    job_details_payload,
    job_outbox,
    lock_driver,
    lock_job,
    lock_order,
    lock_tour,
    lock_truck,
    new_ticket,
    new_tour_number,
    tour_outbox,
)
from fleet.state import job_transition, tour_transition
from oms.exceptions import Conflict, InvalidTransition, ValidationError
from oms.lib.actors import Actor
from orders.models import ZERO_QTY, CallOff, Fulfilment, Order, OrderLine
from orders.models import OrderStatus as OS
from orders.services.fulfilment import order_job_timeline, order_mark_scheduled
from orders.state import CALL_OFF_TRANSITIONS

TRUCK_BUSY = "The truck is on another tour in an overlapping window."
DRIVER_BUSY = "The driver is on another tour in an overlapping window."
OVER_CAPACITY = "The load exceeds the truck's capacity."
NOTHING_TO_PLAN = "Nothing is left to plan for this order."
LOADS_PAUSED = "The customer paused the remaining loads of this order."
TOUR_CLOSED = "The tour is no longer open for jobs."
TOUR_NO_DRIVER = "The tour has no driver."

PLANNABLE_ORDER = frozenset({OS.PLACED, OS.CONFIRMED, OS.SCHEDULED, OS.IN_DELIVERY, OS.PARTIALLY_DELIVERED})
OPEN_TOUR = frozenset({TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED})
DEFAULT_CAPACITY = Decimal("8.000")


class Busy(Conflict):
    code = "double_booked"
    title = "Double booked"


class OverCapacity(Conflict):
    code = "over_capacity"
    title = "Over capacity"
    default_detail = OVER_CAPACITY


def _window(tour: Tour) -> tuple[datetime | None, datetime | None]:
    return tour.planned_start, tour.planned_end


def _overlaps(a: Tour, b: Tour) -> bool:
    (a0, a1), (b0, b1) = _window(a), _window(b)
    if None in (a0, a1) or None in (b0, b1):
        return True
    return a0 < b1 and b0 < a1


def _active_tours(*, date: Date, exclude: int | None, truck_id: int, driver_id: int | None):
    who = Q(truck_id=truck_id)
    if driver_id is not None:
        who |= Q(driver_id=driver_id)
    busy = Q(status__in=[TourStatus.RELEASED, TourStatus.STARTED]) | Q(
        status=TourStatus.PLANNED,
        jobs__isnull=False,
        jobs__status__in=[s for s in JobStatus if s != "cancelled"],
    )
    qs = Tour.objects.filter(who, busy, date=date).distinct()
    if exclude is not None:
        qs = qs.exclude(pk=exclude)
    return qs


def _check_free(tour: Tour) -> None:
    """Raise Busy if the tour's truck or driver is on another active, overlapping tour (locks held)."""
    for other in _active_tours(
        date=tour.date, exclude=tour.pk, truck_id=tour.truck_id, driver_id=tour.driver_id
    ):
        if not _overlaps(tour, other):
            continue
        if other.truck_id == tour.truck_id:
            raise Busy(TRUCK_BUSY, extra={"tour": other.number})
        raise Busy(DRIVER_BUSY, extra={"tour": other.number})


def _event_created(job: Job, actor: Actor) -> None:
    from django.utils import timezone

    now = timezone.now()
    JobEvent.objects.create(
        job=job,
        tour_id=job.tour_id,
        at=now,
        received_at=now,
        type="job.created",
        status=job.status,
        actor=f"{actor.kind}:{actor.name}" if actor.name else actor.kind,
        data={"ticket": job.ticket, "type": job.type},
    )


def job_create(
    *,
    plant: Plant,
    actor: Actor,
    type: str = JobType.DELIVERY,
    order: Order | None = None,
    lines: list[tuple[OrderLine, Decimal]] = (),  # type: ignore[assignment]
    planned_at: datetime | None = None,
    ticket: str | None = None,
) -> Job:
    """A new planned job (inside the caller's transaction). Not public: use the services below."""
    job = Job.objects.create(
        plant=plant, order=order, type=type, ticket=ticket or new_ticket(), planned_at=planned_at
    )
    JobLine.objects.bulk_create([JobLine(job=job, order_line=line, planned=qty) for line, qty in lines])
    _event_created(job, actor)
    return job


def split_into_loads[T](
    items: Iterable[tuple[T, Decimal]], capacity: Decimal
) -> list[list[tuple[T, Decimal]]]:
    """(item, quantity) pairs cut into truck loads of at most `capacity`, filling each load in the
    order given before starting the next; quantities of 0 or less take no room."""
    loads: list[list[tuple[T, Decimal]]] = []
    room = ZERO_QTY
    for item, quantity in items:
        while quantity > 0:
            if room <= 0:
                loads.append([])
                room = capacity
            take = min(quantity, room)
            loads[-1].append((item, take))
            room -= take
            quantity -= take
    return loads


@transaction.atomic
def order_split_into_jobs(
    *, order: Order, actor: Actor, planned_at: datetime | None = None, capacity: Decimal | None = None
) -> list[Job]:
    order = lock_order(order.pk)
    if order.status not in PLANNABLE_ORDER or order.fulfilment != Fulfilment.DELIVERY:
        raise InvalidTransition(f"An order in status {order.status} cannot be planned.")
    if order.loads_paused:
        raise InvalidTransition(LOADS_PAUSED)
    lines = list(OrderLine.objects.select_for_update().filter(order=order).order_by("pk"))
    planned = dict(
        JobLine.objects.filter(order_line__order=order)
        .exclude(job__status__in=[JobStatus.CANCELLED, JobStatus.FAILED])
        .exclude(job__type=JobType.RETURN_PICKUP)
        .values_list("order_line_id")
        .annotate(total=Sum("planned"))
    )
    if capacity is None:
        capacity = (
            Truck.objects.filter(plant=order.plant, active=True).aggregate(m=Max("capacity"))["m"]
            or DEFAULT_CAPACITY
        )
    open_quantities = [
        (
            line,
            (line.released if order.on_call else line.quantity - line.cancelled)
            - planned.get(line.pk, ZERO_QTY),
        )
        for line in sorted(lines, key=lambda line: line.position)
    ]
    loads = split_into_loads(open_quantities, capacity)
    if not loads:
        raise InvalidTransition(NOTHING_TO_PLAN)
    spacing = timedelta(minutes=order.load_spacing_minutes or 0)
    if spacing and planned_at is None:
        # Paced loads need a first time to count from: the earliest wanted time of the open
        # call-offs, else now.
        wanted = CallOff.objects.filter(order=order, status=CallOff.Status.OPEN, wanted_at__isnull=False)
        first = wanted.order_by("wanted_at").values_list("wanted_at", flat=True).first()
        planned_at = first or timezone.now()
    jobs = [
        job_create(
            plant=order.plant,
            actor=actor,
            order=order,
            lines=load,
            planned_at=planned_at + index * spacing if planned_at is not None else None,
        )
        for index, load in enumerate(loads)
    ]
    if order.on_call:
        CALL_OFF_TRANSITIONS.update(CallOff.objects.filter(order=order), CallOff.Status.SCHEDULED)
    order_job_timeline(
        order=order,
        type="order.jobs_planned",
        actor=actor,
        data={"tickets": [job.ticket for job in jobs]},
        visible=False,
    )
    return jobs


@transaction.atomic
def tour_plan(
    *,
    plant: Plant,
    truck: Truck,
    driver: Driver | None,
    date: Date,
    actor: Actor,
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
) -> Tour:
    lock_truck(truck.pk)
    if driver is not None:
        lock_driver(driver.pk)
    if planned_start and planned_end and planned_end <= planned_start:
        raise ValidationError(
            "The planned end must be after the start.", errors={"planned_end": ["Before start."]}
        )
    tour = Tour(
        number=new_tour_number(),
        date=date,
        plant=plant,
        truck=truck,
        driver=driver,
        planned_start=planned_start,
        planned_end=planned_end,
    )
    _check_free(tour)
    tour.save()
    from django.utils import timezone

    now = timezone.now()
    JobEvent.objects.create(
        tour=tour,
        at=now,
        received_at=now,
        type="tour.planned",
        status=tour.status,
        actor=f"{actor.kind}:{actor.name}" if actor.name else actor.kind,
        data={"truck": truck.code, "driver": driver.code if driver else None, "date": date.isoformat()},
    )
    return tour


@transaction.atomic
def tour_release(*, tour: Tour, actor: Actor) -> Tour:
    tour = lock_tour(tour.pk)
    if tour.driver_id is None:
        raise InvalidTransition(TOUR_NO_DRIVER)
    lock_truck(tour.truck_id)
    lock_driver(tour.driver_id)
    _check_free(tour)
    event = tour_transition(tour, TourStatus.RELEASED, actor=actor)
    tour_outbox(tour, at=event.at)
    return tour


def _job_assign_locked(
    *, order: Order | None, job: Job, tour: Tour, actor: Actor, sequence: int | None
) -> Job:
    if tour.status not in OPEN_TOUR:
        raise InvalidTransition(TOUR_CLOSED)
    if tour.driver_id is None:
        raise InvalidTransition(TOUR_NO_DRIVER)
    if job.status != JobStatus.PLANNED:
        raise InvalidTransition(f"A job cannot go from {job.status} to assigned.")
    truck = lock_truck(tour.truck_id)
    lock_driver(tour.driver_id)
    load = job.lines.aggregate(total=Sum("planned"))["total"] or ZERO_QTY
    if job.type != JobType.HOMERUN and load > truck.capacity:
        raise OverCapacity(errors={"load": str(load), "capacity": str(truck.capacity)})
    _check_free(tour)
    if sequence is None:
        sequence = (tour.jobs.aggregate(m=Max("sequence"))["m"] or 0) + 1
    job.tour = tour
    job.sequence = sequence
    job.save(update_fields=["tour", "sequence"])
    job_transition(
        job,
        JobStatus.ASSIGNED,
        actor=actor,
        data={"tour": tour.number, "truck": truck.code, "driver": tour.driver.code},
    )
    message = job_outbox(job, "job.details", job_details_payload(job))
    if order is not None:
        order_job_timeline(
            order=order,
            type="job.assigned",
            actor=actor,
            data={"ticket": job.ticket, "truck": truck.code},
            message=message,
        )
        order_mark_scheduled(order=order, actor=actor, ticket=job.ticket)
    return job


@transaction.atomic
def job_assign(*, job: Job, tour: Tour, actor: Actor, sequence: int | None = None) -> Job:
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    tour = lock_tour(tour.pk)
    return _job_assign_locked(order=order, job=job, tour=tour, actor=actor, sequence=sequence)


def _open_homerun(tour: Tour) -> Job | None:
    return (
        tour.jobs.filter(type=JobType.HOMERUN)
        .exclude(status__in=[JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.DELIVERED])
        .first()
    )


def _homerun_locked(*, tour: Tour, actor: Actor, planned_at: datetime | None, ticket: str | None) -> Job:
    existing = _open_homerun(tour)
    if existing is not None:
        return existing
    if tour.status not in OPEN_TOUR:
        raise InvalidTransition(TOUR_CLOSED)
    job = job_create(
        plant=tour.plant, actor=actor, type=JobType.HOMERUN, planned_at=planned_at, ticket=ticket
    )
    return _job_assign_locked(order=None, job=job, tour=tour, actor=actor, sequence=None)


@transaction.atomic
def job_create_homerun(
    *, tour: Tour, actor: Actor, planned_at: datetime | None = None, ticket: str | None = None
) -> Job:
    tour = lock_tour(tour.pk)
    return _homerun_locked(tour=tour, actor=actor, planned_at=planned_at, ticket=ticket)


def _job_cancel_locked(*, order: Order | None, job: Job, actor: Actor, reason: str) -> Job:
    """Cancel a locked job: off its driver's tour, `job.cancelled` to the ERP, on the order timeline."""
    event = job_transition(job, JobStatus.CANCELLED, actor=actor, note=reason[:2000], data={"reason": reason})
    message = job_outbox(
        job,
        "job.cancelled",
        {
            "ticket": job.ticket,
            "order": order.number if order is not None else None,
            "tour": job.tour.number if job.tour_id else None,
            "reason": reason,
            "at": event.at.isoformat(),
        },
    )
    if order is not None:
        order_job_timeline(
            order=order,
            type="job.cancelled",
            actor=actor,
            data={"ticket": job.ticket, "reason": reason},
            message=message,
        )
    return job


@transaction.atomic
def job_cancel(*, job: Job, actor: Actor, reason: str = "") -> Job:
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    return _job_cancel_locked(order=order, job=job, actor=actor, reason=reason)
