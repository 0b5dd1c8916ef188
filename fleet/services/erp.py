"""Fleet side of inbound ERP messages. The ERP mapper resolves codes to objects and calls these.

Signatures (keyword-only; one transaction each; `system` is the sending `ErpSystem`):

- `task_delivery_apply(*, system, order, ticket, lines, plant, planned_at, truck=None, driver=None)
  -> Job` — `lines`: `[{"position": int, "quantity": Decimal}]`. Creates the delivery job under the
  ERP's ticket (a resend of a known ticket updates its plan while the job has not started loading,
  else `InvalidTransition`). With `truck` and `driver` the job goes on that truck's tour for the
  plant-local date of `planned_at` (a tour of that truck with that driver; created and released
  if none), so the driver sees it at once; without them it waits, `planned`, for a dispatcher.
- `task_homerun_apply(*, system, truck, plant, planned_at, driver=None, ticket=None) -> Job` —
  a homerun on the truck's open tour of that date (creating and releasing one if a driver is given
  and none exists); an existing open homerun is re-planned, not duplicated.
- `task_return_apply(*, system, order, lines, reason, planned_at=None, ticket=None) -> Job` —
  a planned `return_pickup` job for delivered quantities (`lines` as above), for dispatch.
- `task_cancellation_apply(*, system, order, reason, ticket=None) -> list[Job]` — cancels the
  ticket's job, or every job of the order that has not left the plant. The order itself is
  cancelled by the orders services (the ERP mapper calls `order_cancel` too).
- `order_loading_status_apply(*, order, ticket, loading_status, at, system=None) -> Job` — the
  plant's loading status of a load (`batching|loading|loaded`); the first one marks the order's
  `loading_started_at`; `loading` moves an assigned job to `loading`, `loaded` to `loaded` (same
  effects as the driver's events). A repeated or older status changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from catalog.models import Plant
from fleet.models import Driver, Job, JobLine, JobStatus, JobType, LoadingStatus, Tour, TourStatus, Truck
from fleet.services.common import lock_job, lock_order, lock_tour, plant_local_date
from fleet.services.dispatch import (
    _homerun_locked,
    _job_assign_locked,
    _job_cancel_locked,
    job_create,
    tour_plan,
    tour_release,
)
from fleet.services.driving import _apply_locked
from fleet.services.returns import return_pickup_schedule
from fleet.state import LOADING_TRANSITIONS, job_loading_transition
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from orders.models import ZERO_QTY, Order, OrderLine, ReturnRequest
from orders.services.fulfilment import order_job_timeline, order_loading_started
from orders.services.returns import return_request_approved

UNKNOWN_POSITION = "Unknown order line position."
TICKET_OTHER_ORDER = "This ticket belongs to another order."
JOB_STARTED = "The job has started loading; its plan can no longer change."
UNKNOWN_TICKET = "Unknown ticket for this order."
RETURN_TOO_MUCH = "More than was delivered."

_LOADING_ORDER = [
    LoadingStatus.NOT_STARTED,
    LoadingStatus.BATCHING,
    LoadingStatus.LOADING,
    LoadingStatus.LOADED,
]
UNKNOWN_RETURN = "No return request with this number on this order."
_CANCELLABLE = frozenset({JobStatus.PLANNED, JobStatus.ASSIGNED, JobStatus.LOADING, JobStatus.LOADED})


def erp_actor(system) -> Actor:
    return Actor(kind="erp", name=system.code if system is not None else "erp", channel="erp")


def _order_lines(order: Order, lines: list[dict[str, Any]]) -> list[tuple[OrderLine, Decimal]]:
    by_position = {line.position: line for line in order.lines.all()}
    resolved = []
    for index, item in enumerate(lines):
        line = by_position.get(int(item["position"]))
        if line is None:
            raise ValidationError(UNKNOWN_POSITION, errors={"lines": {str(index): [UNKNOWN_POSITION]}})
        resolved.append((line, Decimal(str(item["quantity"]))))
    return resolved


def _tour_for(*, truck: Truck, driver: Driver, plant: Plant, planned_at: datetime, actor: Actor) -> Tour:
    day = plant_local_date(plant, planned_at)
    tour = (
        Tour.objects.filter(
            truck=truck,
            driver=driver,
            date=day,
            status__in=[TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED],
        )
        .order_by("pk")
        .first()
    )
    if tour is None:
        tour = tour_plan(plant=plant, truck=truck, driver=driver, date=day, actor=actor)
    if tour.status == TourStatus.PLANNED:
        tour = tour_release(tour=tour, actor=actor)
    return lock_tour(tour.pk)


@transaction.atomic
def task_delivery_apply(
    *,
    system,
    order: Order,
    ticket: str,
    lines: list[dict[str, Any]],
    plant: Plant,
    planned_at: datetime,
    truck: Truck | None = None,
    driver: Driver | None = None,
) -> Job:
    actor = erp_actor(system)
    order = lock_order(order.pk)
    resolved = _order_lines(order, lines)
    existing = Job.objects.filter(ticket=ticket).first()
    if existing is not None:
        job = lock_job(existing.pk)
        if job.order_id != order.pk:
            raise ValidationError(TICKET_OTHER_ORDER, errors={"ticket": [TICKET_OTHER_ORDER]})
        if job.status not in (JobStatus.PLANNED, JobStatus.ASSIGNED):
            raise InvalidTransition(JOB_STARTED)
        job.planned_at = planned_at
        job.save(update_fields=["planned_at"])
        JobLine.objects.filter(job=job).delete()
        JobLine.objects.bulk_create([JobLine(job=job, order_line=line, planned=q) for line, q in resolved])
        order_job_timeline(
            order=order, type="job.replanned", actor=actor, data={"ticket": ticket}, visible=False
        )
    else:
        job = job_create(
            plant=plant, actor=actor, order=order, lines=resolved, planned_at=planned_at, ticket=ticket
        )
        order_job_timeline(
            order=order, type="job.created", actor=actor, data={"ticket": ticket}, visible=False
        )
    if truck is not None and driver is not None and job.status == JobStatus.PLANNED:
        tour = _tour_for(truck=truck, driver=driver, plant=plant, planned_at=planned_at, actor=actor)
        _job_assign_locked(order=order, job=job, tour=tour, actor=actor, sequence=None)
    return job


@transaction.atomic
def task_homerun_apply(
    *,
    system,
    truck: Truck,
    plant: Plant,
    planned_at: datetime,
    driver: Driver | None = None,
    ticket: str | None = None,
) -> Job:
    actor = erp_actor(system)
    day = plant_local_date(plant, planned_at)
    tours = Tour.objects.filter(
        truck=truck, date=day, status__in=[TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED]
    )
    if driver is not None:
        tours = tours.filter(driver=driver)
    tour = tours.order_by("-pk").first()
    if tour is None:
        if driver is None:
            raise InvalidTransition("No open tour for this truck on that date.")
        tour = _tour_for(truck=truck, driver=driver, plant=plant, planned_at=planned_at, actor=actor)
    tour = lock_tour(tour.pk)
    job = _homerun_locked(tour=tour, actor=actor, planned_at=planned_at, ticket=ticket)
    if job.planned_at != planned_at and job.status in (JobStatus.PLANNED, JobStatus.ASSIGNED):
        job = lock_job(job.pk)
        job.planned_at = planned_at
        job.save(update_fields=["planned_at"])
    return job


@transaction.atomic
def task_return_apply(
    *,
    system,
    order: Order,
    lines: list[dict[str, Any]],
    reason: str,
    planned_at: datetime | None = None,
    ticket: str | None = None,
    return_number: str | None = None,
) -> Job:
    """The ERP plans a return pickup: for its approved return request `return_number`, or for a
    return it agreed itself (recorded as requested and approved by the ERP). The pickup job is linked
    to the return and waits for a dispatcher."""
    actor = erp_actor(system)
    order = lock_order(order.pk)
    if ticket is not None:
        existing = Job.objects.filter(ticket=ticket, order=order, type=JobType.RETURN_PICKUP).first()
        if existing is not None:
            return existing
    resolved = _order_lines(order, lines)
    for index, (line, quantity) in enumerate(resolved):
        if quantity <= ZERO_QTY or quantity > line.delivered:
            raise ValidationError(RETURN_TOO_MUCH, errors={"lines": {str(index): [RETURN_TOO_MUCH]}})
    if return_number:
        ret = ReturnRequest.objects.filter(order=order, number=return_number).first()
        if ret is None:
            raise ValidationError(UNKNOWN_RETURN, errors={"return": [UNKNOWN_RETURN]})
    else:
        ret = return_request_approved(
            order=order,
            lines={line.position: quantity for line, quantity in resolved},
            reason=reason,
            actor=actor,
        )
    return return_pickup_schedule(ret=ret, actor=actor, planned_at=planned_at, ticket=ticket)


@transaction.atomic
def task_cancellation_apply(*, system, order: Order, reason: str, ticket: str | None = None) -> list[Job]:
    actor = erp_actor(system)
    order = lock_order(order.pk)
    if ticket is not None:
        found = Job.objects.filter(ticket=ticket, order=order).first()
        if found is None:
            raise ValidationError(UNKNOWN_TICKET, errors={"ticket": [UNKNOWN_TICKET]})
        candidates = [found]
    else:
        candidates = list(Job.objects.filter(order=order, status__in=list(_CANCELLABLE)).order_by("pk"))
    cancelled = []
    for candidate in candidates:
        job = lock_job(candidate.pk)
        if job.status == JobStatus.CANCELLED:
            continue
        cancelled.append(_job_cancel_locked(order=order, job=job, actor=actor, reason=reason))
    return cancelled


@transaction.atomic
def order_loading_status_apply(
    *, order: Order, ticket: str, loading_status: str, at: datetime, system=None
) -> Job:
    actor = erp_actor(system)
    order = lock_order(order.pk)
    found = Job.objects.filter(ticket=ticket, order=order).first()
    if found is None:
        raise ValidationError(UNKNOWN_TICKET, errors={"ticket": [UNKNOWN_TICKET]})
    job = lock_job(found.pk)
    if _LOADING_ORDER.index(loading_status) <= _LOADING_ORDER.index(job.loading_status):
        return job
    if loading_status in LOADING_TRANSITIONS[job.loading_status]:
        job_loading_transition(job, loading_status, actor=actor, at=at)
    order_loading_started(order=order, actor=actor, ticket=job.ticket, at=at)
    if loading_status == LoadingStatus.BATCHING:
        return job
    wanted = JobStatus.LOADED if loading_status == LoadingStatus.LOADED else JobStatus.LOADING
    path = {
        JobStatus.ASSIGNED: [JobStatus.LOADING, JobStatus.LOADED],
        JobStatus.LOADING: [JobStatus.LOADED],
    }.get(job.status, [])
    for step in path:
        if job.last_event_at is not None and at < job.last_event_at:
            break
        _apply_locked(order=order, job=job, status=step, at=at, actor=actor, lat=None, lon=None, note="")
        if step == wanted:
            break
    return job
