"""Return pickups: the truck trip that serves a return request, and what it brought back.

- `return_pickup_schedule(*, ret, actor, planned_at=None, ticket=None) -> Job` — an approved return
  gets a return pickup job (its lines and quantities), linked both ways; the return becomes
  `pickup_scheduled`. A dispatcher assigns it to a tour like any job.
- `return_pickup_complete(*, job, actor, collected=None)` — the pickup is back: the quantities actually
  collected (default: all asked for) are received on the return (order lines, stock, `item.positions`
  and `return.received` to the ERP, on the order timeline). Called by the driver's `delivered` event
  of the pickup, or by a rep who records other quantities.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from fleet.models import Job, JobStatus, JobType
from fleet.services.common import job_delivered_m3_refresh, lock_job, lock_order
from fleet.services.dispatch import job_create
from oms.exceptions import InvalidTransition
from oms.lib.actors import Actor
from orders.models import ReturnRequest, ReturnStatus
from orders.services.fulfilment import order_job_timeline
from orders.services.returns import return_receive, return_schedule_pickup

NOT_APPROVED = "Only an approved return can get a pickup."
NOT_A_PICKUP = "This job is not the pickup of a return."
ALREADY_RECEIVED = "The goods of this return were already received."


@transaction.atomic
def return_pickup_schedule(
    *, ret: ReturnRequest, actor: Actor, planned_at: datetime | None = None, ticket: str | None = None
) -> Job:
    order = lock_order(ret.order_id)
    ret = ReturnRequest.objects.select_for_update().get(pk=ret.pk)
    if ret.status != ReturnStatus.APPROVED:
        raise InvalidTransition(NOT_APPROVED, extra={"from": ret.status, "to": ReturnStatus.PICKUP_SCHEDULED})
    lines = [(rl.order_line, rl.quantity) for rl in ret.lines.select_related("order_line").order_by("pk")]
    job = job_create(
        plant=order.plant,
        actor=actor,
        type=JobType.RETURN_PICKUP,
        order=order,
        lines=lines,
        planned_at=planned_at,
        ticket=ticket,
    )
    job.return_request = ret
    job.save(update_fields=["return_request"])
    return_schedule_pickup(ret=ret, actor=actor)
    order_job_timeline(
        order=order,
        type="return.pickup_planned",
        actor=actor,
        data={"ticket": job.ticket, "return": ret.number, "reason": ret.reason},
    )
    return job


def return_pickup_complete_locked(
    *, job: Job, actor: Actor, collected: dict[int, Decimal] | None = None
) -> None:
    """On a locked pickup job and its locked order (the driving service's `delivered`)."""
    if job.return_request_id is None:
        raise InvalidTransition(NOT_A_PICKUP)
    ret = job.return_request
    if ret.status != ReturnStatus.PICKUP_SCHEDULED:
        raise InvalidTransition(ALREADY_RECEIVED, extra={"from": ret.status, "to": ReturnStatus.RECEIVED})
    lines = list(job.lines.select_related("order_line"))
    got = {line.order_line.position: line.planned for line in lines}
    got.update(collected or {})
    for line in lines:
        line.loaded = line.delivered = got[line.order_line.position]
    job.lines.model.objects.bulk_update(lines, ["loaded", "delivered"])
    job_delivered_m3_refresh(job)
    return_receive(ret=ret, actor=actor, received=got, ticket=job.ticket)


@transaction.atomic
def return_pickup_complete(*, job: Job, actor: Actor, collected: dict[int, Decimal] | None = None) -> Job:
    """A rep records what a pickup brought back (the job must have reached the plant: delivered)."""
    lock_order(job.order_id)
    job = lock_job(job.pk)
    if job.type != JobType.RETURN_PICKUP or job.status != JobStatus.DELIVERED:
        raise InvalidTransition(NOT_A_PICKUP, extra={"from": job.status, "to": "received"})
    return_pickup_complete_locked(job=job, actor=actor, collected=collected)
    return job
