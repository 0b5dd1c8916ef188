"""One pooled Redis client per process, for hot paths that need a single round trip (the order rate
counter, the relay nudge flag) when `REDIS_URL` is configured. Django's cache API builds a client
per call and pickles values; these need neither. Short timeouts: a hanging Redis must not hold a
request."""

from __future__ import annotations

import logging
from functools import cache

from django.conf import settings


@cache
def redis_client():
    """The process's client, or None without `REDIS_URL` (callers then fall back to other means)."""
    if not settings.REDIS_URL:
        return None
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


def warn_if_limits_are_per_process() -> None:
    """Log once per web process that, without `REDIS_URL`, the cache and the rate limits (sign-in,
    sign-up, password reset, orders) are counted by each process alone. Production refuses to start
    without it (oms.settings); this reminds a development setup."""
    if not settings.REDIS_URL:
        logging.getLogger(__name__).warning(
            "REDIS_URL is not set: the cache and the rate limits (sign-in, sign-up, password reset, "
            "orders) are kept per process, so each web worker counts on its own."
        )
