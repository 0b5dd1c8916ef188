"""Fixed-window rate limits for what a person or an API key writes: one counter per key and minute.

`hit` counts one request with an atomic increment (Redis INCR and EXPIRE NX in one round trip when
`REDIS_URL` is set, else the cache's `add` + `incr`), so concurrent requests can never over-admit.
If Redis is down the request is let through and not counted: a rate limit must not take the site
down with it. The same counter serves the API throttles (orders/api/throttles.py) and the page
writes of the portal and the console (`write_wait`, `throttled_writes`).
"""

from __future__ import annotations

import functools
import logging
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext as _

from oms.lib.redis import redis_client

WINDOW_SECONDS = 60
logger = logging.getLogger(__name__)


def count_in_redis(key: str, ttl: int) -> int | None:
    """INCR and EXPIRE NX in one round trip; None without Redis (the cache API counts then)."""
    client = redis_client()
    if client is None:
        return None
    pipe = client.pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, ttl, nx=True)
    value, _ = pipe.execute()
    return int(value)


def _count(key: str, ttl: int) -> int:
    count = count_in_redis(key, ttl)
    if count is not None:
        return count
    cache.add(key, 0, timeout=ttl)
    try:
        return int(cache.incr(key))
    except ValueError:  # expired or evicted between add and incr: this request opens the window
        cache.set(key, 1, timeout=ttl)
        return 1


def hit(key: str, *, limit: int, window: int = WINDOW_SECONDS) -> int | None:
    """Count one request under `key`: None while within `limit` per window, else the seconds to wait."""
    now = time.time()
    slot = int(now // window)
    try:
        count = _count(f"oms:throttle:{key}:{slot}", window + 10)
    except Exception:  # noqa: BLE001 - Redis down: let the request through, uncounted
        logger.warning("rate limit not counted: Redis unavailable", extra={"key": key}, exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil(window - now % window))


def write_wait(*, kind: str, user_id: int, order: str | None = None) -> int | None:
    """Count one write of `kind` by the user (and on the order); the seconds to wait when refused.

    Both counters count every attempt, so a client that keeps hammering stays refused.
    """
    waits = [hit(f"write:{kind}:user:{user_id}", limit=settings.OMS_WRITES_PER_USER_PER_MINUTE)]
    if order:
        waits.append(hit(f"write:{kind}:order:{order}", limit=settings.OMS_WRITES_PER_ORDER_PER_MINUTE))
    refused = [wait for wait in waits if wait is not None]
    return max(refused) if refused else None


def too_many_requests(request, wait: int):
    """429 with `Retry-After` and the page (or, for htmx, the message alone) saying when to retry."""
    message = _("Too many requests, try again in %(seconds)d s.") % {"seconds": wait}
    htmx = request.headers.get("HX-Request") == "true"
    template = "_throttled.html" if htmx else "throttled.html"
    response = render(request, template, {"message": message}, status=429)
    response["Retry-After"] = str(wait)
    if htmx:  # shown above the form that was sent (htmx swaps 429 answers, see base.html)
        response["HX-Retarget"] = "this"
        response["HX-Reswap"] = "afterbegin"
    return response


def throttled_writes(kind: str, *, order_kwarg: str | None = None):
    """Limit the view's POSTs per user, and per order when the URL names one (`order_kwarg`).

    Goes inside the sign-in check: the user is known. GETs are never counted.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                order = f"{order_kwarg}:{kwargs[order_kwarg]}"[:100] if order_kwarg else None
                wait = write_wait(kind=kind, user_id=request.user.pk, order=order)
                if wait is not None:
                    return too_many_requests(request, wait)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
