"""Housekeeping of the platform tables. Each periodic run claims its slot first (`period_claim`), so two
beats cannot run one slot twice; every task is idempotent on top of that."""

from __future__ import annotations

from importlib import import_module

from celery import shared_task
from django.conf import settings

from oms.celery import DAY, HOUR, long_task_limits
from oms.lib.idempotency import purge_expired
from oms.lib.lease import period_claim


@shared_task(name="oms.tasks.purge_idempotency_keys", bind=True, soft_time_limit=120, time_limit=180)
def purge_idempotency_keys(self) -> int | None:
    """Hourly: delete idempotency records older than `OMS_IDEMPOTENCY_RETENTION_DAYS`."""
    if not period_claim("purge-idempotency-keys", HOUR, holder=self.request.id):
        return None
    return purge_expired()


@shared_task(name="oms.tasks.clear_sessions", bind=True, **long_task_limits())
def clear_sessions(self) -> bool | None:
    """Daily: delete expired sessions (what `manage.py clearsessions` does)."""
    if not period_claim("clear-sessions", DAY, holder=self.request.id):
        return None
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return True
