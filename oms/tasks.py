from __future__ import annotations

from celery import shared_task

from oms.lib.idempotency import purge_expired


@shared_task(name="oms.tasks.purge_idempotency_keys", soft_time_limit=120, time_limit=180)
def purge_idempotency_keys() -> int:
    """Delete idempotency records past their retention. Idempotent."""
    return purge_expired()
