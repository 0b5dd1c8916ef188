"""Batch data, messages and call requests from the road.

Signatures:

- `batch_record_create(*, job, actor, batch_number, recipe, batched_at, constituents,
  water_cement_ratio=None, slump_mm=None, temperature_c=None) -> BatchRecord` — once per
  (job, batch number); `batch.data` (the payload plus `ticket`) to the ERP.
- `message_post(*, sender_role, sender, body, actor, order=None, tour=None, job=None, to_driver=False,
  driver=None) -> Message` — `message` to the ERP; on the order timeline when the thread belongs to an
  order. A driver's own message names its author as `driver` (and is read by them from the start);
  `to_driver=True` addresses the message to `driver`, else to the driver of the job's tour or of the
  tour — it then appears in that driver's inbox.
- `driver_notify(*, job=None, tour=None, body, actor) -> Message | None` — a `system` message to the
  driver of the job's tour (or of the tour) about a change they must know of; not sent to the ERP, not
  on the order timeline; None when there is no driver to tell.
- `message_driver_read(*, message) -> Message` — the driver's read mark; the first one stays.
- `call_request_create(*, reason, actor, requested_by_role, requested_by, phone="", job=None,
  order=None) -> CallRequest` — a call-back request (SLA `CALLBACK_SLA`); `call.request` to the ERP.
- `call_request_assign(*, call, user, actor)`, `call_request_start(*, call, actor)`,
  `call_request_done(*, call, outcome, actor)` — a rep handles it; every change sends `call.request`
  with the new status (and the outcome when closed) to the ERP.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from fleet.models import BatchRecord, CallRequest, Driver, Job, JobStatus, Message, SenderRole, Tour
from fleet.services.common import iso, job_outbox, lock_job, lock_order
from fleet.state import call_request_transition
from oms.exceptions import Conflict, InvalidTransition, ValidationError
from oms.lib.actors import Actor
from oms.outbox import outbox_enqueue
from orders.models import Order
from orders.services.fulfilment import order_job_timeline

# A driver waiting at a site needs an answer fast.
CALLBACK_SLA = timedelta(minutes=15)
MESSAGE_MAX = 2000
MESSAGE_INVALID = gettext_noop("A message needs a body of 1 to 2,000 characters.")
NO_DRIVER = gettext_noop("No driver is assigned to this job or tour yet.")
BATCH_EXISTS = "This batch is already recorded for the job."
OUTCOME_REQUIRED = "An outcome is required (at most 200 characters)."
CALL_NOT_OPEN = "This call-back is not open any more."
CALL_NOT_IN_PROGRESS = "Only a call-back in progress can be closed."
BATCH_TOO_EARLY = "Batch data needs a load in progress."
BATCH_STATUSES = frozenset(
    {
        JobStatus.ASSIGNED,
        JobStatus.LOADING,
        JobStatus.LOADED,
        JobStatus.EN_ROUTE,
        JobStatus.ARRIVED,
        JobStatus.UNLOADING,
        JobStatus.DELIVERED,
    }
)


class BatchExists(Conflict):
    code = "batch_exists"
    title = "Batch exists"
    default_detail = BATCH_EXISTS


def _dec(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


@transaction.atomic
def batch_record_create(
    *,
    job: Job,
    actor: Actor,
    batch_number: str,
    recipe: str,
    batched_at: datetime,
    constituents: list[dict[str, Any]],
    water_cement_ratio: Decimal | None = None,
    slump_mm: int | None = None,
    temperature_c: Decimal | None = None,
) -> BatchRecord:
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    if job.status not in BATCH_STATUSES:
        raise InvalidTransition(BATCH_TOO_EARLY)
    if BatchRecord.objects.filter(job=job, batch_number=batch_number).exists():
        raise BatchExists()
    record = BatchRecord.objects.create(
        job=job,
        batch_number=batch_number,
        recipe=recipe,
        batched_at=batched_at,
        constituents=constituents,
        water_cement_ratio=water_cement_ratio,
        slump_mm=slump_mm,
        temperature_c=temperature_c,
    )
    payload = {
        "ticket": job.ticket,
        "batch_number": batch_number,
        "recipe": recipe,
        "batched_at": batched_at.isoformat(),
        "constituents": constituents,
        "water_cement_ratio": _dec(water_cement_ratio),
        "slump_mm": slump_mm,
        "temperature_c": _dec(temperature_c),
    }
    message = job_outbox(job, "batch.data", payload)
    if order is not None:
        order_job_timeline(
            order=order,
            type="job.batch_data",
            actor=actor,
            data={"ticket": job.ticket, "batch_number": batch_number, "recipe": recipe},
            message=message,
        )
    return record


def _thread_aggregate(
    *, order: Order | None, tour: Tour | None, job: Job | None, fallback: str
) -> tuple[str, str]:
    if order is not None:
        return "order", order.number
    if job is not None:
        return "job", job.ticket
    if tour is not None:
        return "tour", tour.number
    return "message", fallback


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body or len(body) > MESSAGE_MAX:
        raise ValidationError(MESSAGE_INVALID, errors={"body": [MESSAGE_INVALID]})
    return body


def _thread_driver(*, job: Job | None, tour: Tour | None) -> Driver | None:
    """The driver of the job's tour, else of the tour, as the database has it now."""
    if job is not None and (driver := Driver.objects.filter(tours__jobs__pk=job.pk).first()) is not None:
        return driver
    if tour is not None:
        return Driver.objects.filter(tours__pk=tour.pk).first()
    return None


@transaction.atomic
def message_post(
    *,
    sender_role: str,
    sender: str,
    body: str,
    actor: Actor,
    order: Order | None = None,
    tour: Tour | None = None,
    job: Job | None = None,
    to_driver: bool = False,
    driver: Driver | None = None,
) -> Message:
    """A message in the thread of an order, tour and/or job.

    `driver`: for a driver's own message (`sender_role="driver"`) its author. With `to_driver` the
    driver the message is addressed to — by default the driver of the job's tour, else of the tour;
    without one the message is refused (`NO_DRIVER`).
    """
    body = _clean_body(body)
    if to_driver and sender_role == SenderRole.DRIVER:
        raise ValueError("A driver's own message is not addressed to a driver.")
    if to_driver:
        driver = driver or _thread_driver(job=job, tour=tour)
        if driver is None:
            raise ValidationError(NO_DRIVER, errors={"to_driver": [NO_DRIVER]})
    elif driver is not None and sender_role != SenderRole.DRIVER:
        raise ValueError("`driver` names the author of a driver's message or the addressee (to_driver).")
    if order is None and job is not None and job.order_id:
        order = job.order
    if order is not None:
        order = lock_order(order.pk)
    now = timezone.now()
    message = Message.objects.create(
        order=order,
        tour=tour,
        job=job,
        sender_role=sender_role,
        sender=sender,
        body=body,
        at=now,
        driver=driver,
        # A driver has read what they wrote.
        read_by_driver_at=now if sender_role == SenderRole.DRIVER and driver is not None else None,
    )
    thread: dict[str, str] = {}
    if order is not None:
        thread["order"] = order.number
    if tour is not None:
        thread["tour"] = tour.number
    if job is not None:
        thread["job"] = job.ticket
    aggregate_type, aggregate_id = _thread_aggregate(
        order=order, tour=tour, job=job, fallback=str(message.public_id)
    )
    plant = (order.plant if order else None) or (job.plant if job else None) or (tour.plant if tour else None)
    outbox = outbox_enqueue(
        type="message",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload={
            "id": str(message.public_id),
            "thread": thread,
            "from": f"{sender_role}:{sender}",
            "body": body,
            "at": now.isoformat(),
        },
        version=order.version if order else 1,
        plant=plant,
        system=order.erp_system if order is not None and order.erp_system_id else None,
    )
    if order is not None:
        order_job_timeline(
            order=order,
            type="message.posted",
            actor=actor,
            data={"message": str(message.public_id), "from": sender_role},
            message=outbox,
        )
    return message


@transaction.atomic
def driver_notify(
    *, job: Job | None = None, tour: Tour | None = None, body: str, actor: Actor
) -> Message | None:
    """Tell the driver of `job` (or of `tour`) about a change: a `system` message in their inbox.

    For the dispatch code that cancels, re-plans or changes a job the driver must know about. It
    writes only the message: the change itself is on the timeline and goes to the ERP through its own
    service, so this is neither. Returns None when the job or tour has no driver (nobody to tell).
    """
    if job is None and tour is None:
        raise ValueError("driver_notify needs a job or a tour.")
    body = _clean_body(body)
    if job is not None:
        job = Job.objects.select_related("order", "tour").get(pk=job.pk)
        tour = tour or job.tour
    driver = _thread_driver(job=job, tour=tour)
    if driver is None:
        return None
    return Message.objects.create(
        order=job.order if job is not None else None,
        tour=tour,
        job=job,
        sender_role=SenderRole.SYSTEM,
        sender=actor.name or "system",
        body=body,
        at=timezone.now(),
        driver=driver,
    )


@transaction.atomic
def message_driver_read(*, message: Message) -> Message:
    """Mark `message` read by its driver; a second call keeps the first time. Returns it refreshed."""
    Message.objects.filter(pk=message.pk, read_by_driver_at__isnull=True).update(
        read_by_driver_at=timezone.now()
    )
    message.read_by_driver_at = (
        Message.objects.filter(pk=message.pk).values_list("read_by_driver_at", flat=True).get()
    )
    return message


@transaction.atomic
def call_request_create(
    *,
    reason: str,
    actor: Actor,
    requested_by_role: str,
    requested_by: str,
    phone: str = "",
    job: Job | None = None,
    order: Order | None = None,
) -> CallRequest:
    if order is None and job is not None and job.order_id:
        order = job.order
    if order is not None:
        order = lock_order(order.pk)
    now = timezone.now()
    request = CallRequest.objects.create(
        kind=CallRequest.Kind.CALLBACK,
        customer=order.customer if order is not None else None,
        order=order,
        job=job,
        requested_by_role=requested_by_role,
        requested_by=requested_by,
        phone=phone,
        reason=reason,
        due_at=now + CALLBACK_SLA,
        created_at=now,
    )
    outbox = _call_request_outbox(request, order=order, job=job)
    if order is not None:
        order_job_timeline(
            order=order,
            type="call_request.created",
            actor=actor,
            data={"id": str(request.public_id), "reason": reason, "due_at": iso(request.due_at)},
            message=outbox,
            visible=False,
        )
    return request


def _call_request_outbox(request: CallRequest, *, order: Order | None, job: Job | None):
    """`call.request` with the request's current status, on the thread of its order or job."""
    payload: dict[str, Any] = {
        "id": str(request.public_id),
        "order": order.number if order else None,
        "job": job.ticket if job else None,
        "kind": request.kind,
        "reason": request.reason,
        "phone": request.phone,
        "status": request.status,
    }
    if request.outcome:
        payload["outcome"] = request.outcome
    aggregate_type, aggregate_id = _thread_aggregate(
        order=order, tour=None, job=job, fallback=str(request.public_id)
    )
    if aggregate_type == "message":
        aggregate_type = "call_request"
    return outbox_enqueue(
        type="call.request",
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        payload=payload,
        version=order.version if order else 1,
        plant=(order.plant if order else None) or (job.plant if job else None),
        system=order.erp_system if order is not None and order.erp_system_id else None,
    )


def _call_request_changed(call: CallRequest, type_: str, actor: Actor, **data: Any) -> CallRequest:
    """After a change of a locked call request: `call.request` to the ERP, timeline of its order."""
    order = lock_order(call.order_id) if call.order_id else None
    job = call.job
    outbox = _call_request_outbox(call, order=order, job=job)
    if order is not None:
        order_job_timeline(
            order=order,
            type=type_,
            actor=actor,
            data={"id": str(call.public_id), **data},
            message=outbox,
            visible=False,
        )
    return call


def _lock_call(call: CallRequest) -> CallRequest:
    return CallRequest.objects.select_for_update(of=("self",)).select_related("job").get(pk=call.pk)


@transaction.atomic
def call_request_assign(*, call: CallRequest, user, actor: Actor) -> CallRequest:
    """Take an open call-back (or hand it to `user`); its status does not change."""
    call = _lock_call(call)
    if call.status == CallRequest.Status.DONE:
        raise InvalidTransition(CALL_NOT_OPEN)
    call.assigned_to = user
    call.save(update_fields=["assigned_to"])
    return _call_request_changed(call, "call_request.assigned", actor, assigned_to=user.get_username())


@transaction.atomic
def call_request_start(*, call: CallRequest, actor: Actor) -> CallRequest:
    """open → in_progress (the rep is calling); assigns it to the rep when nobody has it."""
    call = _lock_call(call)
    if call.status != CallRequest.Status.OPEN:
        raise InvalidTransition(CALL_NOT_OPEN)
    also = {"assigned_to": actor.user} if actor.user is not None and call.assigned_to_id is None else {}
    call_request_transition(call, CallRequest.Status.IN_PROGRESS, started_at=timezone.now(), **also)
    return _call_request_changed(call, "call_request.started", actor)


@transaction.atomic
def call_request_done(*, call: CallRequest, outcome: str, actor: Actor) -> CallRequest:
    """in_progress → done with the outcome of the call."""
    outcome = (outcome or "").strip()
    if not outcome or len(outcome) > 200:
        raise ValidationError(OUTCOME_REQUIRED, errors={"outcome": [OUTCOME_REQUIRED]})
    call = _lock_call(call)
    if call.status != CallRequest.Status.IN_PROGRESS:
        raise InvalidTransition(CALL_NOT_IN_PROGRESS)
    call_request_transition(call, CallRequest.Status.DONE, outcome=outcome, closed_at=timezone.now())
    return _call_request_changed(call, "call_request.done", actor, outcome=outcome)
