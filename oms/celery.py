"""The Celery app: reliable defaults, the beat schedule in code, request ids carried into tasks.

Celery messages are nudges only: everything that must not be lost is a row in PostgreSQL, and the
periodic sweeps re-dispatch whatever a lost nudge left behind.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

from oms.lib.logs import empty_result

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")

app = Celery("oms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=False,
    task_ignore_result=True,
    result_backend=None,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    timezone="UTC",
    enable_utc=True,
    beat_scheduler="oms.beat:LeaderScheduler",
)
app.autodiscover_tasks()

# Three queues, so that a slow ERP or a long export never delays the others: run a worker per queue
# in production (docs/operations.md, "Queues and workers"); `make run` runs one worker for all three.
QUEUE_ERP = "erp"
QUEUE_FILES = "files"
QUEUE_DEFAULT = "default"
QUEUES = (QUEUE_ERP, QUEUE_FILES, QUEUE_DEFAULT)
# Every task that talks to an ERP, and every task that writes a file; the rest go to `default`.
TASK_QUEUES: dict[str, str] = {
    "erp_sync.tasks.relay_nudge": QUEUE_ERP,
    "erp_sync.tasks.relay_sweep": QUEUE_ERP,
    "erp_sync.tasks.apply_pending": QUEUE_ERP,
    "erp_sync.tasks.apply_sweep": QUEUE_ERP,
    "erp_sync.tasks.pull_system": QUEUE_ERP,
    "erp_sync.tasks.pull_all": QUEUE_ERP,
    "erp_sync.tasks.reconcile": QUEUE_ERP,
    "erp_sync.tasks.compare_system": QUEUE_ERP,
    "erp_sync.tasks.compare_all": QUEUE_ERP,
    "fleet.tasks.epod_render_pdf": QUEUE_FILES,
    "fleet.tasks.customer_export": QUEUE_FILES,
    "console.export_orders": QUEUE_FILES,
    "console.purge_exports": QUEUE_FILES,
}
app.conf.update(
    task_default_queue=QUEUE_DEFAULT,
    task_create_missing_queues=True,
    task_routes={name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
)

HOUR = 3600.0
DAY = 24 * HOUR


def long_task_limits() -> dict:
    """Time limits of the long tasks (exports, housekeeping): `OMS_LONG_TASK_TIME_LIMIT`, soft 100 s less."""
    from django.conf import settings

    hard = settings.OMS_LONG_TASK_TIME_LIMIT
    return {"soft_time_limit": hard - 100, "time_limit": hard, "ignore_result": True}


# Routine ticks whose Celery log lines are noise unless they did something: task name → the test of
# its return value that says it did nothing (`oms.lib.logs.QuietPeriodicFilter` drops those lines).
QUIET_WHEN_IDLE: dict[str, Callable[[object], bool]] = {}


def quiet_when_idle(task: str, did_nothing: Callable[[object], bool] = empty_result) -> None:
    QUIET_WHEN_IDLE[task] = did_nothing


# Periodic jobs: name → (task, seconds). Each task is idempotent; the beat lease keeps one beat active.
BEAT_SCHEDULE: dict[str, tuple[str, float]] = {
    "purge-idempotency-keys": ("oms.tasks.purge_idempotency_keys", 3600.0),
}


def register_periodic(name: str, task: str, seconds: float) -> None:
    """Apps add their periodic jobs here (from their `tasks` module) so the schedule lives in code."""
    BEAT_SCHEDULE[name] = (task, seconds)
    QUIET_WHEN_IDLE.setdefault(task, empty_result)
    app.conf.beat_schedule = {
        key: {"task": t, "schedule": s, "options": {"expires": max(s, 5)}}
        for key, (t, s) in BEAT_SCHEDULE.items()
    }


register_periodic("purge-idempotency-keys", "oms.tasks.purge_idempotency_keys", HOUR)
# Daily housekeeping is offered every hour and runs once per UTC day (each claims its day slot), so
# a beat that restarts more often than daily still runs it.
register_periodic("clear-sessions", "oms.tasks.clear_sessions", HOUR)


@before_task_publish.connect
def _attach_request_id(headers=None, **kwargs):
    from oms.lib.requestid import current_request_id

    if headers is not None and "request_id" not in headers:
        headers["request_id"] = current_request_id()


_task_tokens: dict[str, object] = {}


@task_prerun.connect
def _restore_request_id(task_id=None, task=None, **kwargs):
    from oms.lib.requestid import request_id_var
    from oms.metrics import task_started

    task_started(task_id)
    rid = (
        getattr(task.request, "request_id", None) or (task.request.headers or {}).get("request_id") or task_id
    )
    _task_tokens[task_id] = request_id_var.set(str(rid))


@task_postrun.connect
def _clear_request_id(task_id=None, task=None, state=None, **kwargs):
    from oms.lib.requestid import request_id_var
    from oms.metrics import task_finished

    task_finished(task_id, task.name, state)
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        request_id_var.reset(token)
