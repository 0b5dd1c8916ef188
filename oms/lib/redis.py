"""One pooled Redis client per process, for hot paths that need a single round trip (the order rate
counter, the relay nudge flag) when `REDIS_URL` is configured. Django's cache API builds a client
per call and pickles values; these need neither. Short timeouts: a hanging Redis must not hold a
request."""

from __future__ import annotations

from functools import cache

from django.conf import settings


@cache
def redis_client():
    """The process's client, or None without `REDIS_URL` (callers then fall back to other means)."""
    if not settings.REDIS_URL:
        return None
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
