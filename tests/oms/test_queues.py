"""Every task goes to its intended queue, and the broker never redelivers a task that may still run."""

from django.conf import settings

from oms.celery import app

EXPECTED_QUEUES = {
    "console.export_orders": "files",
    "console.purge_exports": "files",
    "erp_sync.tasks.apply_pending": "erp",
    "erp_sync.tasks.apply_sweep": "erp",
    "erp_sync.tasks.compare_all": "erp",
    "erp_sync.tasks.compare_system": "erp",
    "erp_sync.tasks.history_purge": "default",
    "erp_sync.tasks.outbox_sample": "default",
    "erp_sync.tasks.pull_all": "erp",
    "erp_sync.tasks.pull_system": "erp",
    "erp_sync.tasks.reconcile": "erp",
    "erp_sync.tasks.relay_nudge": "erp",
    "erp_sync.tasks.relay_sweep": "erp",
    "fleet.tasks.customer_export": "files",
    "fleet.tasks.epod_render_pdf": "files",
    "fleet.tasks.positions_compact": "default",
    "oms.tasks.clear_sessions": "default",
    "oms.tasks.purge_idempotency_keys": "default",
}


def our_tasks() -> dict:
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_each_task_routes_to_its_queue():
    routed = {name: app.amqp.router.route({}, name)["queue"].name for name in our_tasks()}

    assert routed == EXPECTED_QUEUES


def test_the_broker_waits_longer_than_any_task_may_run():
    longest = max(task.time_limit or settings.CELERY_TASK_TIME_LIMIT for task in our_tasks().values())

    assert longest == 1900  # the order export and the housekeeping jobs
    assert settings.OMS_BROKER_ACK_TIMEOUT == 2200
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS == {"visibility_timeout": 2200, "max_retries": 0}
    assert app.conf.broker_transport_options["visibility_timeout"] > longest


def test_the_beat_schedules_the_sweeps_and_the_housekeeping():
    schedule = {name: entry["task"] for name, entry in app.conf.beat_schedule.items()}

    assert set(schedule.values()) <= set(our_tasks())
    assert (
        schedule.items()
        >= {
            "purge-idempotency-keys": "oms.tasks.purge_idempotency_keys",
            "clear-sessions": "oms.tasks.clear_sessions",
            "erp-relay-sweep": "erp_sync.tasks.relay_sweep",
            "erp-apply-sweep": "erp_sync.tasks.apply_sweep",
            "erp-pull-all": "erp_sync.tasks.pull_all",
            "erp-reconcile": "erp_sync.tasks.reconcile",
            "erp-compare": "erp_sync.tasks.compare_all",
            "erp-history-purge": "erp_sync.tasks.history_purge",
            "erp-outbox-sample": "erp_sync.tasks.outbox_sample",
            "positions-compact": "fleet.tasks.positions_compact",
            "exports-purge": "console.purge_exports",
        }.items()
    )
