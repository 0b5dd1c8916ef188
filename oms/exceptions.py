"""The one hierarchy of domain errors.

Services raise these; `oms.lib.problems` turns them into `application/problem+json` responses and
the pages turn them into form errors. Messages are constants so that tests can import them.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every business error. `status` and `code` are what the HTTP layer shows."""

    status = 400
    code = "invalid"
    title = "Invalid request"
    default_detail = "The request is not valid."

    def __init__(self, detail: str | None = None, *, errors: Any = None, extra: dict | None = None):
        self.detail = detail or self.default_detail
        self.errors = errors
        # Top-level members of the problem document besides the standard ones (e.g. `"id"`).
        self.extra = extra or {}
        super().__init__(self.detail)


class ValidationError(DomainError):
    default_detail = "The request has invalid fields."


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"
    default_detail = "Not found."


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"
    title = "Permission denied"
    default_detail = "You may not do this."


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"
    default_detail = "The request conflicts with the current state."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "Invalid transition"
    default_detail = "This change is not allowed in the current state."


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    title = "Insufficient stock"


class DuplicateExternalRef(Conflict):
    code = "duplicate_external_ref"
    title = "Duplicate external reference"
    default_detail = "An order with this external reference already exists for this channel."


class CustomerExists(Conflict):
    code = "customer_exists"
    title = "Customer exists"
    default_detail = "A customer with this email or phone already exists."


class CreditHold(Conflict):
    code = "credit_hold"
    title = "Credit hold"
    default_detail = "The customer is on credit hold."


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
    title = "Request in progress"
    default_detail = "A request with this Idempotency-Key is still being processed."


class IdempotencyKeyReused(DomainError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused"
    default_detail = "This Idempotency-Key was used for a different request."


class IdempotencyKeyMissing(DomainError):
    code = "idempotency_key_missing"
    title = "Idempotency key missing"
    default_detail = "This request needs an Idempotency-Key header."


class CallOffExceedsRemaining(ValidationError):
    """A call-off for more than the on-call order has left to release; `extra["remaining"]` lists
    per line position what is left."""

    status = 422
    code = "call_off_exceeds_remaining"
    title = "Call-off exceeds the remaining quantity"
    default_detail = "The call-off exceeds the quantity not yet released."


class TooLarge(DomainError):
    """A request body or an uploaded file over its limit; nothing of it was stored."""

    status = 413
    code = "too_large"
    title = "Body too large"
    default_detail = "The request is too large."


class Throttled(DomainError):
    """Too many writes of one kind in a short time; `retry_after` is the seconds to wait."""

    status = 429
    code = "throttled"
    title = "Too many requests"
    default_detail = "Too many requests."

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs):
        super().__init__(detail, **kwargs)
        self.retry_after = max(1, int(retry_after))
