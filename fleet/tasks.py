"""Thin Celery wrappers around fleet services. IDs in, one service call, idempotent."""

from __future__ import annotations

from celery import shared_task

from fleet.services.epod import epod_pdf_render


@shared_task(name="fleet.tasks.epod_render_pdf", soft_time_limit=60, time_limit=90, ignore_result=True)
def epod_render_pdf(epod_id: int) -> bool:
    """Render the EPOD e-ticket PDF once; a second run is a no-op (returns False)."""
    return epod_pdf_render(epod_id=epod_id)
