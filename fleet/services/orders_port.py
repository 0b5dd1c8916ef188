"""The fleet's side of the order lifecycle (`orders.ports.Fulfilment`), registered in `fleet.apps`."""

from __future__ import annotations

from django.utils import timezone

from fleet.models import FailureReason, Job, JobStatus, JobType
from fleet.services.common import lock_job
from fleet.services.delivery import job_failed_locked
from fleet.services.dispatch import _job_cancel_locked
from fleet.state import job_transition
from oms.lib.actors import Actor
from orders.models import Order

AT_THE_PLANT = frozenset({JobStatus.PLANNED, JobStatus.ASSIGNED, JobStatus.LOADING, JobStatus.LOADED})
ON_THE_ROAD = frozenset({JobStatus.EN_ROUTE, JobStatus.ARRIVED, JobStatus.UNLOADING})


class FleetFulfilment:
    def loads_cancel(self, *, order: Order, actor: Actor, reason: str) -> list[str]:
        """Loads still at the plant are cancelled; loads on the road end as failed (order cancelled),
        with everything loaded counted as coming back unless the rep recorded otherwise."""
        tickets = []
        jobs = (
            Job.objects.filter(order=order, status__in=[*AT_THE_PLANT, *ON_THE_ROAD])
            .exclude(type=JobType.RETURN_PICKUP)
            .order_by("pk")
        )
        for found in jobs:
            job = lock_job(found.pk)
            if job.status in AT_THE_PLANT:
                _job_cancel_locked(order=order, job=job, actor=actor, reason=reason)
            elif job.status in ON_THE_ROAD:
                at = timezone.now()
                job_transition(job, JobStatus.FAILED, actor=actor, at=at, note=reason[:2000])
                job_failed_locked(
                    order=order,
                    job=job,
                    actor=actor,
                    at=at,
                    reason=FailureReason.ORDER_CANCELLED,
                    note=reason,
                )
            else:
                continue
            tickets.append(job.ticket)
        return tickets

    def loads_on_the_road(self, *, order: Order) -> int:
        return Job.objects.filter(order=order, status__in=list(ON_THE_ROAD)).count()
