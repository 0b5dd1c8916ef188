"""The ERP message envelope (docs/erp-integration.md): limits, usability, JSON Schema validation.

Two levels of "bad": an *unusable* message (not a JSON object, no usable id, a limit broken) is
recorded under a generated id with a truncated copy of what arrived; an *invalid* one (unknown type,
missing fields, wrong types) is stored under its own id and fails when applied.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
MAX_ID = 200
MAX_TYPE = 100
MAX_ENTITY_KEY = 200
MAX_ENTITY_TYPE = 30
MAX_MESSAGE_BYTES = 1024 * 1024
RAW_COPY_CHARS = 2000
ERROR_CHARS = 500

# Every message type in each direction, in the reading order of the ERP guide's tables.
INBOUND_ORDER = (
    "master.plant",
    "master.truck",
    "master.driver",
    "master.product",
    "master.customer",
    "stock.level",
    "order.upsert",
    "order.ack",
    "order.reject",
    "order.cancel_decision",
    "order.loading_status",
    "task.delivery",
    "task.homerun",
    "task.return",
    "task.cancellation",
)
OUTBOUND_ORDER = (
    "order.created",
    "order.cancel_requested",
    "order.cancelled",
    "order.correction",
    "order.pacing",
    "return.requested",
    "return.received",
    "job.details",
    "shipment.info",
    "batch.data",
    "delivery.confirmation",
    "delivery.failed",
    "job.cancelled",
    "epod",
    "item.positions",
    "call.request",
    "message",
    "tour.status",
    "customer.erased",
)
INBOUND_TYPES = frozenset(INBOUND_ORDER)
OUTBOUND_TYPES = frozenset(OUTBOUND_ORDER)

# Readable errors, constants so tests can import them.
NOT_AN_OBJECT = "The message is not a JSON object."
BAD_JSON = "The message is not valid JSON: {error}"
NO_ID = "The message has no usable id (a non-empty string of at most 200 characters)."
TOO_BIG = "The message is larger than 1 MB."
LIMIT_TYPE = "type is longer than 100 characters."
LIMIT_KEY = "entity.key is longer than 200 characters."
UNSTORABLE_TEXT = "The message holds text that cannot be stored (NUL characters or lone surrogates)."
UNKNOWN_TYPE = "Unknown message type {type!r}."


@dataclass(frozen=True)
class Parsed:
    """What the inbox stores for one arrived message. `error` set → recorded as failed at once."""

    message_id: str
    generated_id: bool
    type: str = ""
    entity_type: str = ""
    entity_key: str = ""
    entity_version: int | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] | None = None
    raw: str = ""
    error: str = ""


def raw_copy(text: str) -> str:
    """A truncated copy safe for a text column (NUL and lone surrogates escaped)."""
    text = text[:RAW_COPY_CHARS]
    text = text.replace("\x00", "\\u0000")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def generated_id() -> str:
    return f"unusable-{uuid.uuid4().hex}"


def _unusable(raw: str, error: str) -> Parsed:
    return Parsed(message_id=generated_id(), generated_id=True, raw=raw_copy(raw), error=error)


def _value_storable(value: Any) -> bool:
    """No NUL and no lone surrogate anywhere in the decoded JSON (jsonb refuses both)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not _storable(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_bytes(body: bytes) -> tuple[Any, str]:
    """JSON text → (value, error). `error` is readable; value is None on error."""
    try:
        return json.loads(body), ""
    except (ValueError, RecursionError) as exc:
        return None, BAD_JSON.format(error=str(exc)[:200])


def parse_message(value: Any, *, raw_text: str | None = None) -> Parsed:
    """Check one decoded message for usability; never raises."""
    if raw_text is None:
        try:
            raw_text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            raw_text = repr(value)
    if (
        len(raw_text) > MAX_MESSAGE_BYTES
        or len(raw_text.encode("utf-8", "surrogatepass")) > MAX_MESSAGE_BYTES
    ):
        return _unusable(raw_text, TOO_BIG)
    if not isinstance(value, dict):
        return _unusable(raw_text, NOT_AN_OBJECT)
    message_id = value.get("id")
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > MAX_ID:
        return _unusable(raw_text, NO_ID)
    if not _storable(message_id):
        return _unusable(raw_text, NO_ID)
    type_ = value.get("type")
    if isinstance(type_, str) and len(type_) > MAX_TYPE:
        return _unusable(raw_text, LIMIT_TYPE)
    entity = value.get("entity")
    entity_type = entity_key = ""
    if isinstance(entity, dict):
        key = entity.get("key")
        if isinstance(key, str) and len(key) > MAX_ENTITY_KEY:
            return _unusable(raw_text, LIMIT_KEY)
        if isinstance(key, str) and _storable(key):
            entity_key = key
        etype = entity.get("type")
        if isinstance(etype, str) and len(etype) <= MAX_ENTITY_TYPE and _storable(etype):
            entity_type = etype
    version = value.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version < 2**63:
        version = None
    occurred_at = _parse_datetime(value.get("occurred_at"))
    type_text = type_ if isinstance(type_, str) and _storable(type_) else ""
    if not _storable(raw_text) or not _value_storable(value):
        # Stored under its own id (the dedupe still works) but without the payload jsonb cannot hold.
        return Parsed(
            message_id=message_id,
            generated_id=False,
            type=type_text,
            entity_type=entity_type,
            entity_key=entity_key,
            entity_version=version,
            raw=raw_copy(raw_text),
            error=UNSTORABLE_TEXT,
        )
    return Parsed(
        message_id=message_id,
        generated_id=False,
        type=type_text,
        entity_type=entity_type,
        entity_key=entity_key,
        entity_version=version,
        occurred_at=occurred_at,
        payload=value,
    )


def _parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


@functools.cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _readable(error, prefix: str) -> str:
    path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    message = error.message
    if len(message) > 200:
        message = message[:200] + "…"
    return f"{path.lstrip('.') or 'message'}: {message}"[:ERROR_CHARS]


def schema_errors(name: str, value: Any, *, prefix: str = "") -> str:
    """ "" when `value` matches schema `name`, else one readable error."""
    error = best_match(validator(name).iter_errors(value))
    return "" if error is None else _readable(error, prefix)


def validate_inbound(payload: dict[str, Any]) -> str:
    """The first problem of a stored inbound message, or ""."""
    problem = schema_errors("envelope", payload)
    if problem:
        return problem
    if _parse_datetime(payload["occurred_at"]) is None:
        return "occurred_at: not an ISO 8601 time with offset"
    if payload["type"] not in INBOUND_TYPES:
        return UNKNOWN_TYPE.format(type=payload["type"])
    return schema_errors(payload["type"], payload["data"], prefix="data")


def validate_outbound(type_: str, data: dict[str, Any]) -> str:
    if type_ not in OUTBOUND_TYPES:
        return UNKNOWN_TYPE.format(type=type_)
    return schema_errors(type_, data, prefix="data")
