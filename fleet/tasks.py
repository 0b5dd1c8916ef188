"""Thin Celery wrappers around fleet services. IDs in, one service call, idempotent."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from fleet.privacy import customer_export_store
from fleet.services import positions_compact
from fleet.services.epod import epod_pdf_render
from oms.celery import DAY, HOUR, long_task_limits, register_periodic
from oms.lib.lease import period_claim

JOB_POSITIONS_COMPACT = "positions-compact"


@shared_task(name="fleet.tasks.epod_render_pdf", soft_time_limit=60, time_limit=90, ignore_result=True)
def epod_render_pdf(epod_id: int) -> bool:
    """Render the EPOD e-ticket PDF once; a second run is a no-op (returns False)."""
    return epod_pdf_render(epod_id=epod_id)


@shared_task(name="fleet.tasks.customer_export", **long_task_limits())
def customer_export(customer_id: int, name: str) -> str:
    """Write a customer's personal-data archive to the private storage as `name`; a second run finds
    the file and does nothing."""
    return customer_export_store(customer_id=customer_id, name=name)


@shared_task(name="fleet.tasks.positions_compact", bind=True, **long_task_limits())
def positions_compact_daily(self) -> int | None:
    """Daily: keep one GPS point per truck and 5 minutes for points older than `OMS_POSITIONS_COMPACT_DAYS`."""
    if not period_claim(JOB_POSITIONS_COMPACT, DAY, holder=self.request.id):
        return None
    return positions_compact(days=settings.OMS_POSITIONS_COMPACT_DAYS)


register_periodic(JOB_POSITIONS_COMPACT, "fleet.tasks.positions_compact", HOUR)
