"""Celery task of the console: large order exports (thin wrapper around the export writer)."""

from __future__ import annotations

from celery import shared_task

from console.services import order_export_write
from oms.celery import long_task_limits


@shared_task(name="console.export_orders", **long_task_limits())
def console_export_orders(user_id: int, name: str, filters: dict) -> str:
    """Write the export file; a second run finds the file and does nothing."""
    return str(order_export_write(user_id=user_id, name=name, filters=filters))
