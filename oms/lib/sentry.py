"""Opt-in error tracking: Sentry (or a compatible service) with the Django and Celery integrations.

Started by the settings when `SENTRY_DSN` is set. Every event carries the request id (the same one as
the logs and the `X-Request-ID` response header) as the tag `request_id`, so an error report leads to
its log lines. No personal data is sent: no cookies, credentials, user ids or IP addresses
(`send_default_pii` stays off; that is the SDK's default, and setting it explicitly is deprecated).
"""

from __future__ import annotations

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration

from oms.lib.requestid import current_request_id


def sentry_init(dsn: str, *, environment: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=0.0,
        before_send=tag_request_id,
    )


def tag_request_id(event: dict, hint: dict) -> dict:
    """Tag the event with the request id of the request or task it happened in."""
    event.setdefault("tags", {})["request_id"] = current_request_id()
    return event
