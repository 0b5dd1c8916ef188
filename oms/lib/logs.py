"""Log lines: one JSON object per line in production, so that logs from web, worker and beat can be
searched together; one readable line per event in development (`LOG_FORMAT`, settings). And a filter
that keeps the periodic sync ticks quiet unless they did something."""

from __future__ import annotations

import ast
import json
import logging
import time
from datetime import UTC, datetime

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    """The fields a call passed with `extra=`."""
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and key != "request_id" and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in _extras(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`HH:MM:SS LEVEL logger message key=value…` in local time, the traceback below."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _extras(record)
        if record.name.startswith("celery."):
            fields.pop("data", None)  # Celery's copy of what its message already says
        request_id = getattr(record, "request_id", "-")
        if request_id != "-":
            fields["request_id"] = request_id
        parts = [
            time.strftime("%H:%M:%S", time.localtime(record.created)),
            record.levelname,
            record.name,
            record.getMessage(),
            *(f"{key}={value}" for key, value in fields.items()),
        ]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class QuietPeriodicFilter(logging.Filter):
    """Drops Celery's routine lines about the periodic ticks (`oms.celery.QUIET_WHEN_IDLE`): the beat's
    "Sending due task", the worker's "received", and "succeeded" when the task's return value says it
    did nothing. Failures and retries always stay; with `LOG_LEVEL=DEBUG` everything stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        from django.conf import settings

        # The setting, not the root logger's level: `celery worker --loglevel` resets that one.
        if settings.LOG_LEVEL.upper() == "DEBUG":
            return True
        return not _is_idle_tick(record)


def _is_idle_tick(record: logging.LogRecord) -> bool:
    from oms.celery import QUIET_WHEN_IDLE

    args = record.args
    if record.name == "celery.beat" and isinstance(args, tuple) and len(args) == 2:
        return str(record.msg).startswith("Scheduler: Sending due task") and args[1] in QUIET_WHEN_IDLE
    if not isinstance(args, dict) or args.get("name") not in QUIET_WHEN_IDLE:
        return False
    if record.name == "celery.worker.strategy":
        return True  # "received": whether it does something shows when it succeeds
    if record.name == "celery.app.trace" and "return_value" in args and " succeeded in " in str(record.msg):
        try:
            value = ast.literal_eval(args["return_value"])  # Celery logs the repr of the return value
        except (ValueError, SyntaxError):
            return False
        return QUIET_WHEN_IDLE[args["name"]](value)
    return False


def empty_result(value: object) -> bool:
    """None, False, 0, or containers of nothing but those: the usual return value of an idle tick."""
    if isinstance(value, dict):
        return all(empty_result(v) for v in value.values())
    if isinstance(value, list | tuple | set):
        return all(empty_result(v) for v in value)
    return value is None or value is False or value == 0
