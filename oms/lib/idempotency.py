"""Idempotent requests: the first response to a key is stored and replayed to every retry.

Used by the REST API (`Idempotency-Key` header, through `IdempotentViewMixin`) and by the pages (a
hidden form token), see docs/rest-api.md (Idempotency). The contract in short:

* same key + same request → the stored first response, flagged as replayed;
* same key + different request → `IdempotencyKeyReused` (422), nothing written;
* same key while the first request still runs → `IdempotencyInProgress` (409, Retry-After: 1);
* only responses of requests that reached the business operation are stored: successes and business
  conflicts (409). Anything else removes the record so the client can fix the request and retry.

The in-flight marker is committed before the operation runs, so concurrent retries see it at once.
The operation and the stored response commit in one transaction: an order is never created without
its stored response, and a crash leaves an in-flight marker that expires after
`OMS_IDEMPOTENCY_STALE_SECONDS`, after which the key may be retried.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from oms.exceptions import (
    Conflict,
    DomainError,
    IdempotencyInProgress,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    ValidationError,
)
from oms.lib.files import atomic_with_files
from oms.lib.retention import rows_purge
from oms.models import IdempotencyRecord

if TYPE_CHECKING:
    from rest_framework.response import Response

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
INVALID_KEY_MESSAGE = "Idempotency-Key must be 1-255 visible ASCII characters without spaces."


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: Any
    replayed: bool
    result_ref: str = ""


def validate_key(key: str) -> str:
    if not KEY_PATTERN.match(key):
        raise ValidationError(INVALID_KEY_MESSAGE, errors={"Idempotency-Key": [INVALID_KEY_MESSAGE]})
    return key


def fingerprint(method: str, path: str, payload: Any) -> str:
    """SHA-256 of the request: JSON is compared after parsing (key order and spacing do not matter)."""
    canonical = json.dumps(
        {"method": method.upper(), "path": path, "payload": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _storable(error: DomainError) -> bool:
    return isinstance(error, Conflict) and not isinstance(error, IdempotencyInProgress)


def _insert_marker(*, scope, method, path, key, fp, now, lock) -> IdempotencyRecord | None:
    """One autocommitted `INSERT … ON CONFLICT DO NOTHING`: the marker, or None when the key exists.

    A single statement (no BEGIN/COMMIT or savepoint around it) keeps the claim to one round trip.
    """
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (scope, method, path, key, fingerprint, state, result_ref, created_at, "
            f"locked_until) VALUES (%s, %s, %s, %s, %s, %s, '', %s, %s) "
            f"ON CONFLICT (scope, method, path, key) DO NOTHING RETURNING id",
            [scope, method, path, key, fp, IdempotencyRecord.State.IN_FLIGHT, adapt(now), adapt(lock)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return IdempotencyRecord(
        pk=row[0],
        scope=scope,
        method=method,
        path=path,
        key=key,
        fingerprint=fp,
        state=IdempotencyRecord.State.IN_FLIGHT,
        created_at=now,
        locked_until=lock,
    )


def _claim(*, scope: str, method: str, path: str, key: str, fp: str) -> IdempotencyRecord | IdempotentResult:
    """Insert the in-flight marker, or explain why we may not run (replay / reused / in progress)."""
    now = timezone.now()
    lock = now + timedelta(seconds=settings.OMS_IDEMPOTENCY_STALE_SECONDS)
    for _ in range(3):
        record = _insert_marker(scope=scope, method=method, path=path, key=key, fp=fp, now=now, lock=lock)
        if record is not None:
            return record
        existing = IdempotencyRecord.objects.filter(scope=scope, method=method, path=path, key=key).first()
        if existing is None:
            continue  # the holder gave it up between our insert and read: try again
        if existing.fingerprint != fp:
            raise IdempotencyKeyReused()
        if existing.state == IdempotencyRecord.State.DONE:
            return IdempotentResult(
                status=existing.response_status or 200,
                body=existing.response_body,
                replayed=True,
                result_ref=existing.result_ref,
            )
        if existing.locked_until > now:
            raise IdempotencyInProgress()
        # The first request died in flight: take its marker over, if nobody else just did.
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, state=IdempotencyRecord.State.IN_FLIGHT, locked_until=existing.locked_until
        ).update(locked_until=lock, created_at=now)
        if taken:
            existing.locked_until = lock
            return existing
        raise IdempotencyInProgress()
    raise IdempotencyInProgress()


def _store_response(pk: int, *, status: int, body: Any, ref: str) -> None:
    """Mark the record done with its response: the ORM's `update()` written once (every order POST)."""
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    prepare = IdempotencyRecord._meta.get_field("response_body").get_db_prep_save
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET state = %s, response_status = %s, response_body = %s, result_ref = %s "  # noqa: S608
            f"WHERE id = %s",
            [IdempotencyRecord.State.DONE, status, prepare(body, connection), ref, pk],
        )


def run_idempotent(
    *,
    scope: str,
    method: str,
    path: str,
    key: str,
    payload: Any,
    operation: Callable[[], tuple[int, Any, str]],
) -> IdempotentResult:
    """Run `operation` at most once per (scope, method, path, key).

    `operation()` returns (status, body, result_ref) and runs inside the transaction that stores the
    response. Business conflicts it raises are stored and re-raised; other errors store nothing.
    """
    validate_key(key)
    fp = fingerprint(method, path, payload)
    claimed = _claim(scope=scope, method=method, path=path, key=key, fp=fp)
    if isinstance(claimed, IdempotentResult):
        return claimed
    record = claimed
    try:
        with atomic_with_files():  # a file the operation saved goes if its response is not stored
            status, body, ref = operation()
            _store_response(record.pk, status=status, body=body, ref=ref)
    except DomainError as error:
        if _storable(error):
            from oms.lib.problems import problem

            body = problem(
                status=error.status,
                code=error.code,
                title=error.title,
                detail=error.detail,
                errors=error.errors,
                extra=error.extra,
            )
            IdempotencyRecord.objects.filter(pk=record.pk).update(
                state=IdempotencyRecord.State.DONE, response_status=error.status, response_body=body
            )
        else:
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    except BaseException:
        IdempotencyRecord.objects.filter(pk=record.pk).delete()
        raise
    return IdempotentResult(status=status, body=body, replayed=False, result_ref=ref)


# The REST API's side of the contract, for DRF views whose caller is an API client (`request.auth`).
# An operation is `() -> (status, body, result_ref)`; it runs once per `Idempotency-Key` in the scope
# of the calling client. Without a key it just runs, unless the key is required.
# (No class docstring: the schema generator would take it as the description of every operation.)
class IdempotentViewMixin:
    def idempotency_scope(self, request) -> str:
        return f"client:{request.auth.public_id}"

    def idempotency_key(self, request, *, required: bool) -> str | None:
        """The request's key; a missing one is refused when `required`."""
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None and required:
            raise IdempotencyKeyMissing()
        return key

    def check_idempotency_key(self, request, *, required: bool) -> None:
        """Refuse a missing (when required) or malformed key before anything else is looked at."""
        key = self.idempotency_key(request, required=required)
        if key is not None:
            validate_key(key)

    def respond_idempotent(
        self,
        request,
        operation: Callable[[], tuple[int, Any, str]],
        *,
        payload: Any = None,
        required: bool = False,
    ) -> Response:
        """Run `operation` under the request's key and answer with its (or the stored) response.

        `payload` is what identifies the request besides method and path (default: the parsed body).
        """
        # Imported here: the workers import this module (key purge) and need no DRF.
        from rest_framework.response import Response

        from oms.lib.problems import PROBLEM_CONTENT_TYPE

        key = self.idempotency_key(request, required=required)
        if key is None:
            status, body, _ = operation()
            return Response(body, status=status)
        result = run_idempotent(
            scope=self.idempotency_scope(request),
            method=request.method,
            path=request.path,
            key=key,
            payload=request.data if payload is None else payload,
            operation=operation,
        )
        headers = {"Idempotent-Replayed": "true"} if result.replayed else None
        content_type = PROBLEM_CONTENT_TYPE if result.status >= 400 else None
        return Response(result.body, status=result.status, headers=headers, content_type=content_type)


def purge_expired(*, days: int | None = None) -> int:
    """Delete records older than the retention (default `OMS_IDEMPOTENCY_RETENTION_DAYS`)."""
    keep = days if days is not None else settings.OMS_IDEMPOTENCY_RETENTION_DAYS
    cutoff = timezone.now() - timedelta(days=keep)
    return rows_purge(IdempotencyRecord.objects.filter(created_at__lt=cutoff))
