"""Every API error as `application/problem+json` (RFC 9457), in the shape of docs/rest-api.md."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from oms.exceptions import DomainError, Throttled, TooLarge

logger = logging.getLogger(__name__)

PROBLEM_BASE = "https://oms.example/problems/"
PROBLEM_CONTENT_TYPE = "application/problem+json"

# DRF exception class → (code, title). Order matters: subclasses first.
_DRF_CODES: list[tuple[type[drf.APIException], str, str]] = [
    (drf.NotAuthenticated, "not_authenticated", "Not authenticated"),
    (drf.AuthenticationFailed, "authentication_failed", "Authentication failed"),
    (drf.PermissionDenied, "permission_denied", "Permission denied"),
    (drf.NotFound, "not_found", "Not found"),
    (drf.MethodNotAllowed, "method_not_allowed", "Method not allowed"),
    (drf.NotAcceptable, "not_acceptable", "Not acceptable"),
    (drf.UnsupportedMediaType, "unsupported_media_type", "Unsupported media type"),
    (drf.Throttled, "throttled", "Too many requests"),
    (drf.ParseError, "invalid", "Malformed request"),
    (drf.ValidationError, "invalid", "Invalid request"),
]


def problem(
    *, status: int, code: str, title: str, detail: str, errors: Any = None, extra: dict | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return body


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)
    return response


def _validation_errors(detail: Any) -> tuple[str, Any]:
    """DRF's `detail` → (readable detail, field → messages)."""
    if isinstance(detail, dict):
        return "The request has invalid fields.", detail
    if isinstance(detail, list):
        return "The request is not valid.", {"non_field_errors": detail}
    return str(detail), None


def problem_for_exception(exc: Exception) -> tuple[dict[str, Any], dict[str, str]] | None:
    headers: dict[str, str] = {}
    if isinstance(exc, RequestDataTooBig):  # DRF reads `request.body`: Django's limit, our answer
        exc = TooLarge(f"The request body is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.")
    if isinstance(exc, DomainError):
        body = problem(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            extra=exc.extra,
        )
        if exc.code == "idempotency_in_progress":
            headers["Retry-After"] = "1"
        if isinstance(exc, Throttled):
            headers["Retry-After"] = str(exc.retry_after)
        return body, headers
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None
    code, title = "error", "Error"
    for cls, cls_code, cls_title in _DRF_CODES:
        if isinstance(exc, cls):
            code, title = cls_code, cls_title
            break
    errors = None
    if isinstance(exc, drf.ValidationError):
        detail, errors = _validation_errors(exc.detail)
    elif isinstance(exc, drf.NotFound):
        detail = "Not found."
    else:
        detail = str(exc.detail)
    if isinstance(exc, drf.Throttled):
        headers["Retry-After"] = str(int(exc.wait or 1))
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    body = problem(status=exc.status_code, code=code, title=title, detail=detail, errors=errors)
    return body, headers


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF `EXCEPTION_HANDLER`: domain and DRF errors → problem+json; anything else → 500 (logged)."""
    result = problem_for_exception(exc)
    if result is None:
        return None  # a real bug: let Django log it and answer 500
    body, headers = result
    request = context.get("request")
    if request is not None and getattr(request, "_request", None) is not None:
        # DRF negotiated JSON; make sure an authentication failure still carries its header.
        auth = getattr(context.get("view"), "get_authenticate_header", None)
        if body["status"] == 401 and auth and "WWW-Authenticate" not in headers:
            value = auth(request)
            if value:
                headers["WWW-Authenticate"] = value
    return problem_response(body, headers)
