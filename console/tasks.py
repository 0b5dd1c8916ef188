"""Celery tasks of the console: large order exports, and their retention (thin wrappers)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from console.services import exports_purge, order_export_write
from oms.celery import DAY, HOUR, long_task_limits, register_periodic
from oms.lib.lease import period_claim

JOB_EXPORTS_PURGE = "exports-purge"


@shared_task(name="console.export_orders", **long_task_limits())
def console_export_orders(user_id: int, name: str, filters: dict) -> str:
    """Write the export file; a second run finds the file and does nothing."""
    return str(order_export_write(user_id=user_id, name=name, filters=filters))


@shared_task(name="console.purge_exports", bind=True, **long_task_limits())
def console_purge_exports(self) -> int | None:
    """Daily: delete export files older than `OMS_EXPORT_RETENTION_DAYS` (on disk or in the bucket)."""
    if not period_claim(JOB_EXPORTS_PURGE, DAY, holder=self.request.id):
        return None
    return exports_purge(older_than=timedelta(days=settings.OMS_EXPORT_RETENTION_DAYS))


register_periodic(JOB_EXPORTS_PURGE, "console.purge_exports", HOUR)
