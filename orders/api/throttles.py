"""Rate limit of order creation per API client (docs/rest-api.md: default 120 per minute)."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from oms.lib.redis import redis_client
from orders.models import ApiClient

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


def count_in_redis(key: str) -> int | None:
    """INCR and EXPIRE NX in one round trip; None without Redis (the cache API counts then)."""
    client = redis_client()
    if client is None:
        return None
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, WINDOW_SECONDS + 10, nx=True)
    value, _ = pipe.execute()
    return int(value)


class OrderCreateThrottle(BaseThrottle):
    """A fixed one-minute window per `ApiClient.public_id`, counted with an atomic cache increment.

    DRF's SimpleRateThrottle reads, appends and writes back a list of timestamps, so concurrent
    requests of one client can all pass; `cache.incr` on Redis cannot over-admit.
    """

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request, view) -> bool:
        client = getattr(request, "auth", None)
        if not isinstance(client, ApiClient):
            return True
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"oms:throttle:order_create:{client.public_id}:{window}"
        try:
            count = count_in_redis(key)
        except Exception:  # noqa: BLE001 - Redis down: take the order, do not count it
            logger.warning("order rate limit not counted: Redis unavailable", exc_info=True)
            return True
        if count is None:
            cache.add(key, 0, timeout=WINDOW_SECONDS + 10)
            try:
                count = cache.incr(key)
            except ValueError:  # expired or evicted between add and incr: this request opens the window
                cache.set(key, 1, timeout=WINDOW_SECONDS + 10)
                count = 1
        if count > settings.OMS_ORDER_RATE_PER_MINUTE:
            self._wait = WINDOW_SECONDS - (now % WINDOW_SECONDS)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
