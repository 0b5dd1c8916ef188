"""The drive: job status events (driver app, ERP loading status, simulator) and GPS positions.

Signatures:

- `job_status_apply(*, job, status, at, actor, lat=None, lon=None, note="", reason="", returned=None)
  -> tuple[Job, bool]`
  One status event for a job; returns (job, applied). A *late* event (`at` older than the job's
  last applied event) or a repeat of the current status is recorded with `applied=False` and moves
  nothing. Otherwise the transition must be allowed (`InvalidTransition`). Side effects:
  `loading` → the load's loading status, `Order.loading_started_at`, order `in_delivery`;
  `loaded` → `JobLine.loaded`/`OrderLine.loaded`, `item.positions`; `en_route` → `shipment.info`;
  `delivered` → the loaded quantities confirmed to the order and the ERP unless an EPOD did already
  (`fleet.services.delivery`); `failed` → its reason code and returned quantities, `delivery.failed`;
  both → learned plant speed, the homerun after the last delivery, tour completion.
  The first event of a released tour starts it (`tour.status`).
- `positions_ingest(*, truck, points) -> int` — bulk insert of validated points
  (`{"at","lat","lon","speed","heading"}`); the truck's cached last position moves forward only
  (one conditional UPDATE per batch); ETAs of the truck's open jobs are recomputed.
- `positions_compact(*, days, keep_every_minutes=5, delete=False) -> int` — thins the points older
  than `days`: keeps the first point per truck and `keep_every_minutes` bucket (or deletes them all),
  one truck per transaction; returns the number of points removed. Idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from fleet.eta import eta_refresh_truck, plant_speed_learn
from fleet.models import (
    Job,
    JobLine,
    JobStatus,
    JobType,
    LoadingStatus,
    PositionReport,
    Tour,
    TourStatus,
    Truck,
)
from fleet.services.common import iso, job_outbox, job_site, lock_job, lock_order, lock_tour, tour_outbox
from fleet.services.delivery import delivery_confirm_as_loaded, failure_validate, job_failed_locked
from fleet.services.dispatch import _homerun_locked
from fleet.services.returns import return_pickup_complete_locked
from fleet.state import (
    JOB_TERMINAL,
    LOADING_TRANSITIONS,
    job_event_record,
    job_loading_transition,
    job_transition,
    tour_transition,
)
from oms.lib.actors import Actor
from orders.models import Order, ReturnStatus
from orders.services.fulfilment import order_job_timeline, order_loading_started, order_record_loaded

J = JobStatus


def _tour_start(tour: Tour, *, actor: Actor, at: datetime) -> None:
    if tour.status == TourStatus.RELEASED:
        event = tour_transition(tour, TourStatus.STARTED, actor=actor, at=at)
        tour_outbox(tour, at=event.at)


def _tour_after_job_end(tour: Tour, *, job: Job, actor: Actor, at: datetime) -> None:
    """After a job ended: plan the homerun after the last load, or complete the tour."""
    open_jobs = tour.jobs.exclude(status__in=list(JOB_TERMINAL))
    if job.type != JobType.HOMERUN and not open_jobs.exists():
        has_homerun = tour.jobs.filter(type=JobType.HOMERUN).exclude(status=J.CANCELLED).exists()
        if not has_homerun:
            _homerun_locked(tour=tour, actor=actor, planned_at=at, ticket=None)
            return
    if tour.status == TourStatus.STARTED and not open_jobs.exists():
        event = tour_transition(tour, TourStatus.COMPLETED, actor=actor, at=at)
        tour_outbox(tour, at=event.at)


def _loaded_lines(job: Job) -> list[tuple[int, Any]]:
    """Put the planned quantity on the truck (once); returns (order line id, quantity) pairs."""
    lines = list(job.lines.filter(loaded=0))
    for line in lines:
        line.loaded = line.planned
    JobLine.objects.bulk_update(lines, ["loaded"])
    return [(line.order_line_id, line.planned) for line in lines]


def _shipment_info(job: Job) -> dict[str, Any]:
    lines = sorted(job.lines.select_related("order_line"), key=lambda line: line.order_line.position)
    return {
        "ticket": job.ticket,
        "loaded_at": iso(job.loaded_at),
        "departed_at": iso(job.departed_at),
        "lines": [{"position": line.order_line.position, "loaded": f"{line.loaded:.3f}"} for line in lines],
    }


def _apply_locked(
    *,
    order: Order | None,
    job: Job,
    status: str,
    at: datetime,
    actor: Actor,
    lat: float | None,
    lon: float | None,
    note: str,
    reason: str = "",
    returned: dict | None = None,
) -> bool:
    if status == J.FAILED:
        failure_validate(job, reason=reason, returned=returned)  # bad input writes nothing
    if job.last_event_at is not None and at < job.last_event_at:
        job_event_record(job, status, actor=actor, at=at, lat=lat, lon=lon, note=note, reason="late")
        return False
    if status == job.status:
        job_event_record(job, status, actor=actor, at=at, lat=lat, lon=lon, note=note, reason="repeated")
        return False
    job_transition(job, status, actor=actor, at=at, lat=lat, lon=lon, note=note)
    tour = lock_tour(job.tour_id) if job.tour_id else None
    if tour is not None:
        _tour_start(tour, actor=actor, at=at)
    data = {"ticket": job.ticket, "at": at.isoformat()}
    if status in (J.LOADING, J.LOADED) and job.type == JobType.DELIVERY:
        target = LoadingStatus.LOADED if status == J.LOADED else LoadingStatus.LOADING
        if target in LOADING_TRANSITIONS[job.loading_status]:
            job_loading_transition(job, target, actor=actor, at=at)
        if order is not None:
            order_loading_started(order=order, actor=actor, ticket=job.ticket, at=at)
            if status == J.LOADED:
                order_record_loaded(order=order, loaded=_loaded_lines(job), actor=actor, ticket=job.ticket)
            else:
                order_job_timeline(order=order, type="job.loading", actor=actor, data=data)
    elif status == J.EN_ROUTE and job.type == JobType.DELIVERY:
        message = job_outbox(job, "shipment.info", _shipment_info(job))
        if order is not None:
            order_job_timeline(order=order, type="job.en_route", actor=actor, data=data, message=message)
    elif status == J.DELIVERED and job.type == JobType.DELIVERY and order is not None:
        delivery_confirm_as_loaded(order=order, job=job, actor=actor, at=at)
    elif status == J.DELIVERED and job.type == JobType.RETURN_PICKUP and job.return_request_id:
        if job.return_request.status == ReturnStatus.PICKUP_SCHEDULED:
            return_pickup_complete_locked(job=job, actor=actor)
    elif status == J.FAILED:
        job_failed_locked(
            order=order, job=job, actor=actor, at=at, reason=reason, note=note, returned=returned
        )
    elif order is not None and status != J.DELIVERED:
        order_job_timeline(order=order, type=f"job.{status}", actor=actor, data=data)
    if status in (J.DELIVERED, J.FAILED):
        if status == J.DELIVERED and job.type == JobType.DELIVERY:
            plant_speed_learn(job=job)
        if tour is not None:
            _tour_after_job_end(tour, job=job, actor=actor, at=at)
    if tour is not None:
        truck = Truck.objects.get(pk=tour.truck_id)
        transaction.on_commit(lambda: eta_refresh_truck(truck=truck))
    return True


@transaction.atomic
def job_status_apply(
    *,
    job: Job,
    status: str,
    at: datetime,
    actor: Actor,
    lat: float | None = None,
    lon: float | None = None,
    note: str = "",
    reason: str = "",
    returned: dict | None = None,
) -> tuple[Job, bool]:
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    applied = _apply_locked(
        order=order,
        job=job,
        status=status,
        at=at,
        actor=actor,
        lat=lat,
        lon=lon,
        note=note,
        reason=reason,
        returned=returned,
    )
    return job, applied


@transaction.atomic
def positions_ingest(*, truck: Truck, points: list[dict[str, Any]]) -> int:
    if not points:
        return 0
    PositionReport.objects.bulk_create(
        [
            PositionReport(
                truck_id=truck.pk,
                at=p["at"],
                lat=p["lat"],
                lon=p["lon"],
                speed=p.get("speed"),
                heading=p.get("heading"),
            )
            for p in points
        ],
        batch_size=1000,
    )
    latest = max(points, key=lambda p: p["at"])
    moved = Truck.objects.filter(
        Q(last_position_at__isnull=True) | Q(last_position_at__lt=latest["at"]), pk=truck.pk
    ).update(
        last_lat=latest["lat"],
        last_lon=latest["lon"],
        last_speed=latest.get("speed"),
        last_heading=latest.get("heading"),
        last_position_at=latest["at"],
    )
    if moved:
        truck.last_lat, truck.last_lon = latest["lat"], latest["lon"]
        truck.last_speed, truck.last_heading = latest.get("speed"), latest.get("heading")
        truck.last_position_at = latest["at"]
        eta_refresh_truck(truck=truck)
    return len(points)


__all__ = ["job_site", "job_status_apply", "positions_ingest"]


def positions_compact(*, days: int, keep_every_minutes: int = 5, delete: bool = False) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    removed = 0
    # One truck per transaction: short locks, and the (truck, -at) index serves every statement.
    for truck_id in Truck.objects.values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            if delete:
                removed += PositionReport.objects.filter(truck_id=truck_id, at__lt=cutoff).delete()[0]
            else:
                removed += _positions_thin(truck_id, cutoff, keep_every_minutes * 60)
    return removed


def _positions_thin(truck_id: int, cutoff: datetime, bucket_seconds: int) -> int:
    """Delete all but the first point of every bucket before `cutoff` (a window function per truck)."""
    table = connection.ops.quote_name(PositionReport._meta.db_table)
    if connection.vendor == "postgresql":
        bucket = "floor(extract(epoch from at) / %s)"
    else:
        bucket = "CAST(strftime('%%s', at) AS INTEGER) / %s"
    sql = (
        f"DELETE FROM {table} WHERE id IN ("  # noqa: S608 - quoted table name only
        f"  SELECT id FROM ("
        f"    SELECT id, row_number() OVER (PARTITION BY {bucket} ORDER BY at, id) AS rn"
        f"    FROM {table} WHERE truck_id = %s AND at < %s"
        f"  ) ranked WHERE rn > 1)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [bucket_seconds, truck_id, cutoff])
        return cursor.rowcount
