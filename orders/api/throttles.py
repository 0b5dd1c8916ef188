"""Rate limits per API key (docs/rest-api.md): order creation (default 120 per minute) and customer
lookup and registration (default 30 per minute)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from oms.lib import throttle
from orders.models import ApiClient


class ApiKeyThrottle(BaseThrottle):
    """A fixed one-minute window per `ApiClient.public_id`, counted atomically (oms.lib.throttle).

    DRF's SimpleRateThrottle reads, appends and writes back a list of timestamps, so concurrent
    requests of one client can all pass; an atomic increment cannot over-admit.
    """

    scope = ""
    rate_setting = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            return True
        limit = getattr(settings, self.rate_setting)
        self._wait = throttle.hit(f"{self.scope}:{client.public_id}", limit=limit)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


class OrderCreateThrottle(ApiKeyThrottle):
    scope = "order_create"
    rate_setting = "OMS_ORDER_RATE_PER_MINUTE"


class CustomerThrottle(ApiKeyThrottle):
    """Customer lookup and registration: a kiosk serves a few people a minute, a scanner many."""

    scope = "customers"
    rate_setting = "OMS_CUSTOMER_API_RATE_PER_MINUTE"
