"""The fleet state machines: tours, jobs and the loading status of a job.

One `ALLOWED_TRANSITIONS` map per status field and one helper each. The helpers work on a row the
caller has locked (`select_for_update`) inside its transaction; they check the move, change the
status and its timestamp, bump `version`, save with `update_fields` and write one `JobEvent`.
Nothing assigns `.status =` / `.loading_status =` outside this module. Call requests' status
changes here too (`call_request_transition`); their timeline entries belong to the order.

Event types (reused by the order timeline): `tour.<status>`, `job.<status>`, `job.loading_status`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from fleet.models import CallRequest, JobEvent, JobStatus, LoadingStatus, Tour, TourStatus
from fleet.models import Job as JobModel
from oms.lib.actors import Actor
from oms.lib.transitions import Transitions

T = TourStatus
J = JobStatus
L = LoadingStatus

TOUR_TRANSITIONS = Transitions(
    "tour",
    {
        T.PLANNED: {T.RELEASED, T.CANCELLED},
        T.RELEASED: {T.STARTED, T.CANCELLED},
        T.STARTED: {T.COMPLETED},
        T.COMPLETED: set(),
        T.CANCELLED: set(),
    },
)

# Homeruns and return pickups leave without loading (assigned → en_route) and have nothing to
# unload (arrived → delivered); a delivery normally goes through every step.
JOB_TRANSITIONS = Transitions(
    "job",
    {
        J.PLANNED: {J.ASSIGNED, J.CANCELLED},
        J.ASSIGNED: {J.PLANNED, J.LOADING, J.EN_ROUTE, J.CANCELLED},
        J.LOADING: {J.LOADED, J.FAILED, J.CANCELLED},
        J.LOADED: {J.EN_ROUTE, J.FAILED, J.CANCELLED},
        J.EN_ROUTE: {J.ARRIVED, J.FAILED},
        J.ARRIVED: {J.UNLOADING, J.DELIVERED, J.FAILED},
        J.UNLOADING: {J.DELIVERED, J.FAILED},
        J.DELIVERED: set(),
        J.FAILED: set(),
        J.CANCELLED: set(),
    },
)

# The plant may report any later loading step (an ERP that only knows "loaded" skips the others).
LOADING_TRANSITIONS = Transitions(
    "load",
    {
        L.NOT_STARTED: {L.BATCHING, L.LOADING, L.LOADED},
        L.BATCHING: {L.LOADING, L.LOADED},
        L.LOADING: {L.LOADED},
        L.LOADED: set(),
    },
    field="loading_status",
)

C = CallRequest.Status
# A call-back is started (the rep is calling) and closed with the outcome of the call.
CALL_REQUEST_TRANSITIONS = Transitions(
    "call request", {C.OPEN: {C.IN_PROGRESS}, C.IN_PROGRESS: {C.DONE}, C.DONE: set()}
)

# Backwards compatible single name for the job map.
ALLOWED_TRANSITIONS = JOB_TRANSITIONS

JOB_ACTIVE = frozenset({J.ASSIGNED, J.LOADING, J.LOADED, J.EN_ROUTE, J.ARRIVED, J.UNLOADING})
JOB_TERMINAL = frozenset(s for s, targets in JOB_TRANSITIONS.items() if not targets)
TOUR_ACTIVE = frozenset({T.PLANNED, T.RELEASED, T.STARTED})

# Statuses reported from the road. Only these advance `last_event_at`, the clock that makes a later
# driver event "late"; planning steps (assigned, cancelled) happen in the office at their own time.
FIELD_STATUSES = frozenset({J.LOADING, J.LOADED, J.EN_ROUTE, J.ARRIVED, J.UNLOADING, J.DELIVERED, J.FAILED})

# Which timestamp a job status sets (first time only).
_JOB_TIMESTAMPS = {
    J.LOADED: "loaded_at",
    J.EN_ROUTE: "departed_at",
    J.ARRIVED: "arrived_at",
    J.DELIVERED: "delivered_at",
}


def tour_transition(
    tour: Tour,
    to_status: str,
    *,
    actor: Actor,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> JobEvent:
    """Move a locked tour to `to_status`; raises InvalidTransition (and writes nothing) otherwise."""
    from_status = tour.status
    TOUR_TRANSITIONS.check(from_status, to_status)
    now = timezone.now()
    at = at or now
    tour.status = to_status
    tour.version += 1
    fields = ["status", "version"]
    if to_status == T.STARTED and tour.started_at is None:
        tour.started_at = at
        fields.append("started_at")
    if to_status == T.COMPLETED and tour.completed_at is None:
        tour.completed_at = at
        fields.append("completed_at")
    tour.save(update_fields=fields)
    return JobEvent.objects.create(
        tour=tour,
        at=at,
        received_at=now,
        type=f"tour.{to_status}",
        status=to_status,
        actor=_actor_name(actor),
        data={"from": from_status, "to": to_status, **(data or {})},
    )


def job_transition(
    job: JobModel,
    to_status: str,
    *,
    actor: Actor,
    at: datetime | None = None,
    lat: float | None = None,
    lon: float | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> JobEvent:
    """Move a locked job to `to_status`; raises InvalidTransition (and writes nothing) otherwise.

    Sets the status timestamp (`loaded_at`, `departed_at`, `arrived_at`, `delivered_at`) and, for
    statuses reported from the road, `last_event_at` (decides whether a later driver event is late).
    """
    from_status = job.status
    JOB_TRANSITIONS.check(from_status, to_status)
    now = timezone.now()
    at = at or now
    job.status = to_status
    job.version += 1
    fields = ["status", "version"]
    stamp = _JOB_TIMESTAMPS.get(to_status)
    if stamp and getattr(job, stamp) is None:
        setattr(job, stamp, at)
        fields.append(stamp)
    if to_status in FIELD_STATUSES and (job.last_event_at is None or at > job.last_event_at):
        job.last_event_at = at
        fields.append("last_event_at")
    job.save(update_fields=fields)
    return JobEvent.objects.create(
        job=job,
        tour_id=job.tour_id,
        at=at,
        received_at=now,
        type=f"job.{to_status}",
        status=to_status,
        lat=lat,
        lon=lon,
        note=note,
        actor=_actor_name(actor),
        data={"from": from_status, "to": to_status, **(data or {})},
    )


def job_loading_transition(
    job: JobModel,
    to_status: str,
    *,
    actor: Actor,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> JobEvent:
    """Move a locked job's loading status forward; raises InvalidTransition otherwise."""
    from_status = job.loading_status
    LOADING_TRANSITIONS.check(from_status, to_status)
    now = timezone.now()
    at = at or now
    job.loading_status = to_status
    job.version += 1
    job.save(update_fields=["loading_status", "version"])
    return JobEvent.objects.create(
        job=job,
        tour_id=job.tour_id,
        at=at,
        received_at=now,
        type="job.loading_status",
        status=to_status,
        actor=_actor_name(actor),
        data={"from": from_status, "to": to_status, **(data or {})},
    )


def call_request_transition(call: CallRequest, to_status: str, **also: Any) -> str:
    """Move a locked call request to `to_status` (plus `also` fields); returns the status it left."""
    from_status = call.status
    CALL_REQUEST_TRANSITIONS.check(from_status, to_status)
    call.status = to_status
    for name, value in also.items():
        setattr(call, name, value)
    call.save(update_fields=["status", *also])
    return from_status


def job_event_record(
    job: JobModel,
    status: str,
    *,
    actor: Actor,
    at: datetime,
    lat: float | None = None,
    lon: float | None = None,
    note: str = "",
    reason: str,
) -> JobEvent:
    """Record an event that does not move the job (late or repeated): timeline only, `applied=False`."""
    return JobEvent.objects.create(
        job=job,
        tour_id=job.tour_id,
        at=at,
        received_at=timezone.now(),
        type=f"job.{status}",
        status=status,
        applied=False,
        lat=lat,
        lon=lon,
        note=note,
        actor=_actor_name(actor),
        data={"reason": reason, "current": job.status},
    )


def _actor_name(actor: Actor) -> str:
    return f"{actor.kind}:{actor.name}" if actor.name else actor.kind
