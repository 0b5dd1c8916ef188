"""Readable development logs, and the periodic ticks that stay quiet unless they did something."""

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS

from oms.lib.logs import QuietPeriodicFilter, TextFormatter

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def record(name, msg, args=(), level=logging.INFO, **extra):
    rec = logging.getLogger(name).makeRecord(name, level, __file__, 1, msg, args, None, extra=extra)
    rec.created = 1795334400.25  # 2026-11-22 08:00:00.25 UTC
    return rec


def test_text_lines_are_time_level_logger_message_and_fields(utc):
    line = TextFormatter().format(
        record("erp_sync.relay", "ERP batch sent", request_id="req-7", erp="DEMO-ERP", sent=3)
    )

    assert line == "08:00:00 INFO erp_sync.relay ERP batch sent erp=DEMO-ERP sent=3 request_id=req-7"


def test_text_lines_leave_out_a_missing_request_id_and_celerys_data_copy(utc):
    context = {"id": "abc", "name": "fleet.tasks.epod_render_pdf"}
    rec = record("celery.worker.strategy", LOG_RECEIVED, (context,), request_id="-", data=context)

    assert TextFormatter().format(rec) == (
        "08:00:00 INFO celery.worker.strategy Task fleet.tasks.epod_render_pdf[abc] received"
    )


def test_text_lines_put_the_traceback_below():
    try:
        raise ValueError("bad")
    except ValueError:
        rec = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    lines = TextFormatter().format(rec).splitlines()

    assert lines[0].endswith(" ERROR x failed")
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: bad"


def succeeded(task, return_value):
    context = {
        "id": "abc",
        "name": task,
        "return_value": return_value,
        "runtime": 0.01,
        "args": "()",
        "kwargs": "{}",
    }
    return record("celery.app.trace", LOG_SUCCESS, (context,), data=context)


@pytest.mark.parametrize(
    ("rec", "kept"),
    [
        (
            record(
                "celery.beat",
                "Scheduler: Sending due task %s (%s)",
                ("erp-relay-sweep", "erp_sync.tasks.relay_sweep"),
            ),
            False,
        ),
        (
            record(
                "celery.beat", "Scheduler: Sending due task %s (%s)", ("other", "fleet.tasks.epod_render_pdf")
            ),
            True,
        ),
        (
            record(
                "celery.worker.strategy", LOG_RECEIVED, ({"id": "abc", "name": "erp_sync.tasks.apply_sweep"},)
            ),
            False,
        ),
        (
            record(
                "celery.worker.strategy",
                LOG_RECEIVED,
                ({"id": "abc", "name": "fleet.tasks.epod_render_pdf"},),
            ),
            True,
        ),
        (succeeded("erp_sync.tasks.relay_sweep", "None"), False),  # the slot was taken
        (succeeded("erp_sync.tasks.relay_sweep", "{}"), False),
        (succeeded("erp_sync.tasks.relay_nudge", "{'accepted': 0}"), False),
        (succeeded("erp_sync.tasks.relay_nudge", "{'accepted': 3}"), True),
        (succeeded("erp_sync.tasks.pull_system", "{'pages': 1}"), False),
        (succeeded("erp_sync.tasks.pull_system", "{'pages': 1, 'received': 2}"), True),
        (succeeded("erp_sync.tasks.pull_all", "['DEMO-ERP']"), False),
        (succeeded("erp_sync.tasks.history_purge", "{'inbox': 0, 'outbox': 0, 'sync_runs': 0}"), False),
        (succeeded("erp_sync.tasks.history_purge", "{'inbox': 5, 'outbox': 0, 'sync_runs': 0}"), True),
        (succeeded("fleet.tasks.epod_render_pdf", "False"), True),  # not a periodic tick
        (succeeded("erp_sync.tasks.relay_sweep", "<object at 0x1>"), True),  # unreadable: keep
        (record("erp_sync.relay", "ERP batch sent"), True),
    ],
)
def test_quiet_filter_drops_only_idle_periodic_lines(rec, kept, settings):
    settings.LOG_LEVEL = "INFO"

    assert QuietPeriodicFilter().filter(rec) is kept


def test_a_failed_periodic_task_is_always_logged(settings):
    settings.LOG_LEVEL = "INFO"
    context = {
        "id": "abc",
        "name": "erp_sync.tasks.relay_sweep",
        "exc": "boom",
        "description": "raised unexpected",
    }
    failed = record(
        "celery.app.trace", "Task %(name)s[%(id)s] %(description)s: %(exc)s", (context,), logging.ERROR
    )

    assert QuietPeriodicFilter().filter(failed) is True


def test_debug_level_keeps_every_line(settings):
    settings.LOG_LEVEL = "DEBUG"

    assert QuietPeriodicFilter().filter(succeeded("erp_sync.tasks.relay_sweep", "{}")) is True


def log_format(**env) -> subprocess.CompletedProcess:
    script = "import django; django.setup(); from django.conf import settings as s; print(s.LOG_FORMAT)"
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "OMS_VAR_DIR": os.environ.get("OMS_VAR_DIR", "var/test"),
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_log_format_is_text_in_development_json_elsewhere_and_checked():
    assert log_format(DJANGO_ENV="development").stdout.strip() == "text"
    assert log_format(DJANGO_ENV="test").stdout.strip() == "json"
    assert log_format(DJANGO_ENV="development", LOG_FORMAT="json").stdout.strip() == "json"
    bad = log_format(DJANGO_ENV="test", LOG_FORMAT="xml")
    assert bad.returncode != 0
    assert "ImproperlyConfigured: LOG_FORMAT must be json or text, got 'xml'" in bad.stderr
