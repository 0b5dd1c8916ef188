"""Structured JSON logs and the request id that ties a request's log lines together."""

import io
import json
import logging
import re

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from oms.lib.logs import JsonFormatter
from oms.lib.requestid import RequestIdFilter, RequestIdMiddleware, current_request_id, request_id_var

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def log_stream():
    """A logger wired like settings.LOGGING: JSON formatter plus the request-id filter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("tests.oms.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_json_formatter_emits_one_object_per_record():
    record = logging.makeLogRecord(
        {
            "name": "orders.services",
            "levelno": logging.WARNING,
            "levelname": "WARNING",
            "msg": "order %s placed",
            "args": ("SO-000001",),
            "created": 1795334400.25,
            "request_id": "req-1",
        }
    )

    line = JsonFormatter().format(record)

    assert "\n" not in line
    assert json.loads(line) == {
        "ts": "2026-11-22T08:00:00.250+00:00",
        "level": "WARNING",
        "logger": "orders.services",
        "msg": "order SO-000001 placed",
        "request_id": "req-1",
    }


def test_json_formatter_without_a_request_id_writes_a_dash():
    record = logging.makeLogRecord({"name": "celery", "msg": "tick", "created": 0})

    entry = json.loads(JsonFormatter().format(record))

    assert entry["request_id"] == "-"
    assert entry["ts"] == "1970-01-01T00:00:00.000+00:00"


def test_log_lines_carry_the_current_request_id_and_extra_fields(log_stream):
    logger, stream = log_stream
    token = request_id_var.set("abc-123")
    try:
        logger.info("outbox sent", extra={"order": "SO-000001", "attempts": 2})
    finally:
        request_id_var.reset(token)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert set(entry) == {"ts", "level", "logger", "msg", "request_id", "order", "attempts"}
    assert (entry["level"], entry["logger"], entry["msg"], entry["request_id"]) == (
        "INFO",
        "tests.oms.json",
        "outbox sent",
        "abc-123",
    )
    assert (entry["order"], entry["attempts"]) == ("SO-000001", 2)


def test_exceptions_are_logged_inside_the_same_json_line(log_stream):
    logger, stream = log_stream

    try:
        raise ValueError("broken payload")
    except ValueError:
        logger.exception("inbox apply failed")

    lines = stream.getvalue().splitlines()
    entry = json.loads(stream.getvalue())
    assert lines[0].startswith("{") and lines[-1].endswith("}")
    assert entry["msg"] == "inbox apply failed"
    assert entry["level"] == "ERROR"
    assert entry["exc"].startswith("Traceback (most recent call last):")
    assert entry["exc"].endswith("ValueError: broken payload")


def test_middleware_echoes_a_valid_incoming_request_id_and_uses_it_during_the_request():
    seen = []

    def view(request):
        seen.append((current_request_id(), request.request_id))
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="edge-proxy.42_a")

    response = RequestIdMiddleware(view)(request)

    assert response["X-Request-ID"] == "edge-proxy.42_a"
    assert seen == [("edge-proxy.42_a", "edge-proxy.42_a")]
    assert current_request_id() == "-"


@pytest.mark.parametrize(
    "incoming",
    ["has space", "x" * 65, "new\nline", "<script>", "ünïcode", ""],
)
def test_middleware_replaces_an_invalid_request_id_with_a_generated_one(incoming):
    seen = []

    def view(request):
        seen.append(current_request_id())
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID=incoming)

    response = RequestIdMiddleware(view)(request)

    assert GENERATED_ID.match(response["X-Request-ID"])
    assert seen == [response["X-Request-ID"]]
    assert current_request_id() == "-"


def test_middleware_generates_a_fresh_id_per_request_without_a_header():
    middleware = RequestIdMiddleware(lambda request: HttpResponse("ok"))

    first = middleware(RequestFactory().get("/"))["X-Request-ID"]
    second = middleware(RequestFactory().get("/"))["X-Request-ID"]

    assert GENERATED_ID.match(first)
    assert GENERATED_ID.match(second)
    assert first != second


def test_request_id_is_echoed_through_the_full_stack(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a")

    assert response.status_code == 200
    assert response["X-Request-ID"] == "lb-7f3a"
