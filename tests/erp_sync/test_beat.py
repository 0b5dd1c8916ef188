"""Two beat processes at once: every periodic ERP job runs exactly once per time slot."""

import json
import time
from collections import Counter

import pytest

from erp_sync.tasks import JOB_APPLY_SWEEP, JOB_PULL_ALL, JOB_RELAY_SWEEP
from oms.models import JobSlot, Lease

pytestmark = pytest.mark.django_db(transaction=True)

# Task name → job name of its slot claims (sweeps every 2 s and pulls every 1 s in the test env).
JOBS = {
    "erp_sync.tasks.relay_sweep": (JOB_RELAY_SWEEP, 2),
    "erp_sync.tasks.apply_sweep": (JOB_APPLY_SWEEP, 2),
    "erp_sync.tasks.pull_all": (JOB_PULL_ALL, 1),
}


def runs_in_logs(paths) -> tuple[Counter, Counter]:
    """(executions that claimed their slot, all executions) per task, from the workers' JSON logs."""
    ran, total = Counter(), Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            data = record.get("data") or {}
            if data.get("name") in JOBS and "return_value" in data:
                total[data["name"]] += 1
                if data["return_value"] != "None":
                    ran[data["name"]] += 1
    return ran, total


def two_beats(erp_system, celery_procs, seconds: float):
    # DEBUG keeps Celery's lines of idle ticks, which the logs drop otherwise (QuietPeriodicFilter).
    workers = [celery_procs("worker", LOG_LEVEL="DEBUG"), celery_procs("worker", LOG_LEVEL="DEBUG")]
    beats = [celery_procs("beat"), celery_procs("beat")]
    started = time.time()
    time.sleep(seconds)
    for beat in beats:
        beat.stop()
    time.sleep(3)  # let the workers finish what the beats sent
    for worker in workers:
        worker.stop()
    elapsed = time.time() - started
    ran, total = runs_in_logs([w.log_path for w in workers])
    for task, (job, interval) in JOBS.items():
        slots = list(JobSlot.objects.filter(job=job).values_list("slot", flat=True))
        # Once per slot: each claim is exactly one execution that did work.
        assert ran[task] == len(slots), task
        # Only the lease holder sent. Had both beats sent, about every slot would see a second
        # execution that finds it taken (the claim keeps the work single; the lease is what this
        # tests). A task that starts late can still land in a slot already run, so allow one in ten.
        assert total[task] - ran[task] <= max(1, ran[task] // 10), (task, total[task], ran[task])
        # And the job kept its rhythm: it ran in most slots of the window (start-up costs a few).
        assert len(slots) >= (seconds / interval) * 0.6, (task, len(slots))
        assert len(slots) <= elapsed / interval + 1, (task, len(slots))
    lease = Lease.objects.get(name="celery-beat")
    assert lease.holder
    return ran, total


def test_two_beats_for_20_seconds_run_each_job_once_per_slot(erp_system, celery_procs):
    ran, total = two_beats(erp_system, celery_procs, seconds=20)
    print(f"\n20 s, two beats: ran {dict(ran)}, executions {dict(total)}")


@pytest.mark.slow
def test_two_beats_for_2_minutes_run_each_job_once_per_slot(erp_system, celery_procs):
    ran, total = two_beats(erp_system, celery_procs, seconds=120)
    print(f"\n120 s, two beats: ran {dict(ran)}, executions {dict(total)}")
