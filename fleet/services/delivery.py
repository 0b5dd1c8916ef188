"""How a load ends: delivered (with or without its EPOD), failed with a reason, or delivered again.

Signatures (all on a job and order the caller locked, inside its transaction, except the public
`job_redeliver`):

- `delivery_confirm_locked(*, order, job, quantities, actor, at, reasons=None)` — the load's
  delivered and returned quantities (per job line) go onto the job, the order lines and stock;
  `delivery.confirmation` to the ERP; `delivery.confirmed` on the timeline. Once per load
  (`Job.confirmed_at`): the driver's `delivered` event confirms what was loaded, an EPOD confirms what
  was signed for, whichever comes first; an EPOD arriving later attaches to it.
- `job_failed_locked(*, order, job, actor, at, reason, note, returned)` — the reason code (a
  `FailureReason`) and the quantity that came back; the load is no longer on its way (`OrderLine.loaded`
  goes down), so its quantity is open for planning again; `delivery.failed` to the ERP.
- `delivery_amend(*, job, position, delivered, reason, actor) -> DeliveryAmendment` — a delivered
  quantity corrected after the EPOD (which stays as signed): amendment row, order line, timeline
  (visible to the customer), `order.correction` with field `delivered` to the ERP.
- `job_redeliver(*, job, actor, planned_at=None) -> Job` — a new load with the failed load's lines,
  linked to it (`redelivery_of`), waiting for a dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from fleet.models import DeliveryAmendment, FailureReason, Job, JobLine, JobStatus, JobType, ProofOfDelivery
from fleet.services.common import job_delivered_m3_refresh, job_outbox, lock_job, lock_order
from fleet.services.dispatch import job_create
from oms.exceptions import InvalidTransition, ValidationError
from oms.lib.actors import Actor
from orders.models import ZERO_QTY, Order, OrderLine
from orders.payloads import qty
from orders.services.fulfilment import (
    order_delivery_amend,
    order_job_timeline,
    order_load_failed,
    order_record_delivery,
)

UNDER_WAY = frozenset(
    {JobStatus.LOADING, JobStatus.LOADED, JobStatus.EN_ROUTE, JobStatus.ARRIVED, JobStatus.UNLOADING}
)
FAILURE_REASON_INVALID = "Give one of the failure reasons: " + ", ".join(FailureReason.values) + "."
RETURNED_INVALID = "The returned quantity must be between 0 and what was loaded."
NOT_FAILED = "Only a failed load can be delivered again."
ALREADY_REDELIVERED = "This load is already being delivered again."
AMEND_REASON = "A reason is required (at most 200 characters)."
NOT_DELIVERED = "Only the quantity of a delivered load can be amended."
UNKNOWN_POSITION = "This load has no line at that position."
AMEND_SAME = "The delivered quantity is already this."


def delivery_confirm_locked(
    *,
    order: Order,
    job: Job,
    quantities: list[tuple[JobLine, Decimal, Decimal]],
    actor: Actor,
    at: datetime,
    reasons: dict[int, str] | None = None,
    after_message: Callable[[], object] | None = None,
) -> bool:
    """Confirm the load's quantities once; False (and nothing written) when it already was.

    `after_message` runs right after `delivery.confirmation` is queued: the EPOD's own message and
    timeline entry go there, so the ERP gets confirmation, EPOD, then the order's line quantities, and
    the timeline shows the EPOD, the confirmation, then the delivery."""
    if job.confirmed_at is not None:
        return False
    reasons = reasons or {}
    ordered = sorted(quantities, key=lambda item: item[0].order_line.position)
    for line, delivered, returned in ordered:
        line.delivered, line.returned = delivered, returned
    JobLine.objects.bulk_update([item[0] for item in ordered], ["delivered", "returned"])
    job_delivered_m3_refresh(job)
    job.confirmed_at = at
    job.save(update_fields=["confirmed_at"])
    lines = [
        {"position": line.order_line.position, "delivered": qty(delivered), "returned": qty(returned)}
        for line, delivered, returned in ordered
    ]
    confirmation = job_outbox(
        job,
        "delivery.confirmation",
        {"ticket": job.ticket, "order": order.number, "delivered_at": at.isoformat(), "lines": lines},
    )
    if after_message is not None:
        after_message()
    order_job_timeline(
        order=order,
        type="delivery.confirmed",
        actor=actor,
        data={
            "ticket": job.ticket,
            "lines": [{**line, "reason": reasons.get(line["position"], "")} for line in lines],
        },
        message=confirmation,
    )
    order_record_delivery(
        order=order,
        lines=[(line.order_line_id, delivered, returned) for line, delivered, returned in ordered],
        actor=actor,
        ticket=job.ticket,
        at=at,
    )
    return True


def delivery_confirm_as_loaded(*, order: Order, job: Job, actor: Actor, at: datetime) -> bool:
    """The driver reported `delivered` without an EPOD: what was loaded (else planned) was delivered."""
    lines = list(job.lines.select_related("order_line"))
    return delivery_confirm_locked(
        order=order,
        job=job,
        quantities=[(line, line.loaded or line.planned, ZERO_QTY) for line in lines],
        actor=actor,
        at=at,
    )


def failure_validate(
    job: Job, *, reason: str, returned: dict[int, Decimal] | None
) -> tuple[str, dict[int, Decimal]]:
    """Check a failure report before anything is written; returns (reason, position → returned)."""
    reason = reason or FailureReason.OTHER
    if reason not in FailureReason.values:
        raise ValidationError(FAILURE_REASON_INVALID, errors={"reason": [FAILURE_REASON_INVALID]})
    by_position = {line.order_line.position: line for line in job.lines.select_related("order_line")}
    returned = dict(returned or {})
    errors = {}
    for position, quantity in returned.items():
        line = by_position.get(position)
        if line is None or quantity < 0 or quantity > (line.loaded or line.planned):
            errors[str(position)] = [RETURNED_INVALID]
    if errors:
        raise ValidationError(RETURNED_INVALID, errors={"returned": errors})
    return reason, returned


def job_failed_locked(
    *,
    order: Order | None,
    job: Job,
    actor: Actor,
    at: datetime,
    reason: str,
    note: str = "",
    returned: dict[int, Decimal] | None = None,
) -> None:
    """After the job moved to `failed`: record why and what came back, tell the order and the ERP."""
    reason, returned = failure_validate(job, reason=reason, returned=returned)
    job.failure_reason, job.failure_note = reason, (note or "")[:200]
    job.save(update_fields=["failure_reason", "failure_note"])
    lines = list(job.lines.select_related("order_line").order_by("order_line__position"))
    for line in lines:
        line.returned = returned.get(line.order_line.position, line.loaded)
    JobLine.objects.bulk_update(lines, ["returned"])
    for line in lines:
        if line.loaded:
            # The load is no longer on its way: its quantity is open for planning (a redelivery).
            OrderLine.objects.filter(pk=line.order_line_id).update(
                loaded=Greatest(F("loaded") - line.loaded, ZERO_QTY)
            )
    payload = {
        "ticket": job.ticket,
        "order": order.number if order is not None else None,
        "at": at.isoformat(),
        "reason": reason,
        "note": job.failure_note,
        "lines": [
            {
                "position": line.order_line.position,
                "loaded": qty(line.loaded),
                "returned": qty(line.returned),
            }
            for line in lines
        ],
    }
    message = job_outbox(job, "delivery.failed", payload)
    if order is not None:
        order_job_timeline(
            order=order,
            type="job.failed",
            actor=actor,
            data={"ticket": job.ticket, "at": at.isoformat(), "reason": reason, "note": job.failure_note},
            message=message,
        )
        under_way = Job.objects.filter(order=order, status__in=UNDER_WAY).exclude(pk=job.pk).count()
        order_load_failed(order=order, actor=actor, ticket=job.ticket, loads_under_way=under_way)


@transaction.atomic
def job_redeliver(*, job: Job, actor: Actor, planned_at: datetime | None = None) -> Job:
    """Plan the failed load again as a new job (same lines and quantities), linked to it."""
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    if job.status != JobStatus.FAILED or job.type != JobType.DELIVERY or order is None:
        raise InvalidTransition(NOT_FAILED, extra={"from": job.status, "to": "redelivery"})
    if Job.objects.filter(redelivery_of=job).exists():
        raise InvalidTransition(ALREADY_REDELIVERED)
    lines = [(line.order_line, line.planned) for line in job.lines.select_related("order_line")]
    again = job_create(
        plant=job.plant, actor=actor, order=order, lines=lines, planned_at=planned_at or timezone.now()
    )
    again.redelivery_of = job
    again.save(update_fields=["redelivery_of"])
    order_job_timeline(
        order=order,
        type="job.redelivery_planned",
        actor=actor,
        data={"ticket": again.ticket, "failed": job.ticket},
    )
    return again


@transaction.atomic
def delivery_amend(
    *, job: Job, position: int, delivered: Decimal, reason: str, actor: Actor
) -> DeliveryAmendment:
    """Amend the delivered quantity of one line of a delivered load. The EPOD stays untouched; the
    amendment (reason, who, when) links to it, the order line follows, the ERP gets a correction."""
    order = lock_order(job.order_id)
    job = lock_job(job.pk)
    reason = (reason or "").strip()
    if not reason or len(reason) > 200:
        raise ValidationError(AMEND_REASON, errors={"reason": [AMEND_REASON]})
    if job.status != JobStatus.DELIVERED or job.confirmed_at is None or order is None:
        raise InvalidTransition(NOT_DELIVERED, extra={"from": job.status, "to": "amended"})
    line = job.lines.select_related("order_line").filter(order_line__position=position).first()
    if line is None:
        raise ValidationError(UNKNOWN_POSITION, errors={"position": [UNKNOWN_POSITION]})
    most = line.loaded or line.planned
    if delivered < 0 or delivered + line.returned > most or delivered.as_tuple().exponent < -3:
        message = f"The delivered quantity must be between 0 and {qty(most - line.returned)}."
        raise ValidationError(message, errors={"delivered": [message]})
    if delivered == line.delivered:
        raise InvalidTransition(AMEND_SAME)
    epod = ProofOfDelivery.objects.filter(job=job).first()
    old = line.delivered
    line.delivered = delivered
    line.save(update_fields=["delivered"])
    job_delivered_m3_refresh(job)
    amendment = DeliveryAmendment.objects.create(
        job=job,
        epod=epod,
        order_line=line.order_line,
        old=old,
        new=delivered,
        reason=reason,
        by=actor.name or actor.kind,
        at=timezone.now(),
    )
    order_delivery_amend(
        order=order,
        line=line.order_line,
        old=old,
        new=delivered,
        reason=reason,
        actor=actor,
        ticket=job.ticket,
        epod_sha256=epod.sha256 if epod is not None else None,
    )
    return amendment
