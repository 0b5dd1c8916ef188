"""Celery tasks of the ERP sync: thin, idempotent, time-limited wrappers around the services.

Nudges (`relay_nudge`, `apply_pending`) give low latency; the periodic sweeps guarantee progress
when a nudge is lost (a Redis flush costs latency, never data). Periodic runs claim their time
slot in the database first, so two beats cannot run one slot twice.
"""

from __future__ import annotations

import logging

from celery import shared_task

from erp_sync.services import SAMPLE_SECONDS
from oms.celery import DAY, HOUR, long_task_limits, quiet_when_idle, register_periodic
from oms.lib.env import env_int
from oms.lib.lease import period_claim

logger = logging.getLogger(__name__)

SWEEP_SECONDS = env_int("OMS_ERP_SWEEP_SECONDS", 10)
PULL_SECONDS = env_int("OMS_ERP_PULL_SECONDS", 5)
RECONCILE_SECONDS = 24 * 3600
COMPARE_SECONDS = env_int("OMS_ERP_COMPARE_SECONDS", 3600)
DRAIN_SECONDS = 20.0
LIMITS = {"soft_time_limit": 60, "time_limit": 90, "ignore_result": True}

JOB_RELAY_SWEEP = "erp-relay-sweep"
JOB_APPLY_SWEEP = "erp-apply-sweep"
JOB_PULL_ALL = "erp-pull-all"
JOB_RECONCILE = "erp-reconcile"
JOB_COMPARE = "erp-compare"
JOB_HISTORY_PURGE = "erp-history-purge"
JOB_OUTBOX_SAMPLE = "erp-outbox-sample"
COMPARE_LIMITS = {"soft_time_limit": 600, "time_limit": 660, "ignore_result": True}


@shared_task(name="erp_sync.tasks.relay_nudge", bind=True, **LIMITS)
def relay_nudge(self) -> dict:
    """Send what is due now (after a commit that enqueued outbox rows). Continues itself while busy."""
    from erp_sync.relay import relay_drain
    from oms.outbox import relay_nudge_started

    relay_nudge_started()
    counts, more = relay_drain(max_seconds=DRAIN_SECONDS)
    if more:
        relay_nudge.apply_async(retry=False)
    return dict(counts)


@shared_task(name="erp_sync.tasks.relay_sweep", bind=True, **LIMITS)
def relay_sweep(self) -> dict | None:
    """Periodic safety net for lost nudges and for retries whose backoff has passed."""
    if not period_claim(JOB_RELAY_SWEEP, SWEEP_SECONDS, holder=self.request.id):
        return None
    return relay_nudge.run()


@shared_task(name="erp_sync.tasks.apply_pending", bind=True, **LIMITS)
def apply_pending(self) -> dict:
    """Apply inbox rows waiting in `received`. Continues itself while busy."""
    from erp_sync.inbound import inbox_apply_pending

    outcomes, more = inbox_apply_pending(max_seconds=DRAIN_SECONDS)
    if more:
        apply_pending.apply_async(retry=False)
    return dict(outcomes)


@shared_task(name="erp_sync.tasks.apply_sweep", bind=True, **LIMITS)
def apply_sweep(self) -> dict | None:
    if not period_claim(JOB_APPLY_SWEEP, SWEEP_SECONDS, holder=self.request.id):
        return None
    return apply_pending.run()


@shared_task(name="erp_sync.tasks.pull_system", bind=True, **LIMITS)
def pull_system(self, code: str) -> dict | None:
    """Pull one ERP (one puller per ERP at a time: the others return at once)."""
    from erp_sync.pull import pull_system as pull
    from oms.models import ErpSystem

    system = ErpSystem.objects.filter(code=code, enabled=True).first()
    if system is None:
        return None
    counts = pull(system, max_seconds=DRAIN_SECONDS)
    return None if counts is None else dict(counts)


@shared_task(name="erp_sync.tasks.pull_all", bind=True, **LIMITS)
def pull_all(self) -> list[str] | None:
    """Queue a pull for every ERP whose poll interval has passed."""
    from erp_sync.pull import systems_due_for_pull

    if not period_claim(JOB_PULL_ALL, PULL_SECONDS, holder=self.request.id):
        return None
    codes = [system.code for system in systems_due_for_pull()]
    for code in codes:
        pull_system.apply_async(args=[code], retry=False, expires=PULL_SECONDS * 6)
    return codes


@shared_task(
    name="erp_sync.tasks.reconcile", bind=True, soft_time_limit=600, time_limit=660, ignore_result=True
)
def reconcile(self) -> dict | None:
    """Daily: compare the OMS with what the ERPs were told and repair the drift (see reconcile.py)."""
    from erp_sync.reconcile import erp_reconcile

    if not period_claim(JOB_RECONCILE, RECONCILE_SECONDS, holder=self.request.id):
        return None
    return erp_reconcile(days=2)


@shared_task(name="erp_sync.tasks.compare_system", bind=True, **COMPARE_LIMITS)
def compare_system(self, code: str) -> dict | None:
    """Compare one ERP's view of the recent orders with the OMS's (see reconcile.py, `erp_compare`)."""
    from erp_sync.reconcile import erp_compare
    from oms.models import ErpSystem

    system = ErpSystem.objects.filter(code=code, enabled=True).first()
    if system is None:
        return None
    result = erp_compare(system=system, max_seconds=COMPARE_LIMITS["soft_time_limit"] * 0.8)
    return {"outcome": result.outcome, **result.counts}


@shared_task(name="erp_sync.tasks.compare_all", bind=True, **LIMITS)
def compare_all(self) -> list[str] | None:
    """Hourly: queue a comparison for every enabled, unpaused ERP."""
    from erp_sync.reconcile import systems_to_compare

    if not period_claim(JOB_COMPARE, COMPARE_SECONDS, holder=self.request.id):
        return None
    codes = [system.code for system in systems_to_compare()]
    for code in codes:
        compare_system.apply_async(args=[code], retry=False, expires=COMPARE_SECONDS)
    return codes


@shared_task(name="erp_sync.tasks.history_purge", bind=True, **long_task_limits())
def history_purge(self) -> dict | None:
    """Daily: delete (and archive) the finished inbox, outbox and sync-run rows past their retention."""
    from erp_sync.retention import erp_history_purge

    if not period_claim(JOB_HISTORY_PURGE, DAY, holder=self.request.id):
        return None
    return erp_history_purge()


@shared_task(name="erp_sync.tasks.outbox_sample", bind=True, **LIMITS)
def outbox_sample(self) -> bool:
    """Every 5 minutes: the outbox backlog's sample for the console dashboard (once per slot)."""
    from erp_sync.services import outbox_sample_take

    return outbox_sample_take()


register_periodic(JOB_RELAY_SWEEP, "erp_sync.tasks.relay_sweep", float(SWEEP_SECONDS))
register_periodic(JOB_APPLY_SWEEP, "erp_sync.tasks.apply_sweep", float(SWEEP_SECONDS))
register_periodic(JOB_PULL_ALL, "erp_sync.tasks.pull_all", float(PULL_SECONDS))
register_periodic(JOB_RECONCILE, "erp_sync.tasks.reconcile", float(RECONCILE_SECONDS))
register_periodic(JOB_COMPARE, "erp_sync.tasks.compare_all", float(COMPARE_SECONDS))
register_periodic(JOB_HISTORY_PURGE, "erp_sync.tasks.history_purge", HOUR)
# What the sweeps fan out to is as routine when it finds nothing: a nudge or an apply run with nothing
# to do, a pull of one empty page. That a pull was queued is never news (its pull shows if it finds any).
quiet_when_idle("erp_sync.tasks.relay_nudge")
quiet_when_idle("erp_sync.tasks.apply_pending")
quiet_when_idle("erp_sync.tasks.pull_system", lambda counts: not counts or dict(counts) == {"pages": 1})
quiet_when_idle("erp_sync.tasks.pull_all", lambda codes: True)
register_periodic(JOB_OUTBOX_SAMPLE, "erp_sync.tasks.outbox_sample", float(SAMPLE_SECONDS))
