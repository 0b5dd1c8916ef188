"""Small cache-based rate limits for the portal's sign-up, invitation and password-reset emails.

Fixed windows counted with `cache.add` + `cache.incr` (atomic on Redis and locmem). Keys hash the
address so no email sits in Redis. Wrong passwords are counted by django-axes (`oms.lib.signin`).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _key(scope: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(p.strip().lower() for p in parts).encode()).hexdigest()[:32]
    return f"portal:rl:{scope}:{digest}"


def hit(scope: str, *parts: str, window: int) -> int:
    """Count one event in the current window; returns the count including this one."""
    key = _key(scope, *parts)
    if cache.add(key, 1, timeout=window):
        return 1
    try:
        return int(cache.incr(key))
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window)
        return 1


# --- sign-up and password reset ----------------------------------------------------------------


def email_request_allowed(*, scope: str, email: str, ip: str) -> bool:
    """Count a sign-up / reset request; False once the IP or the address is over its hourly limit."""
    limit = settings.OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR
    by_ip = hit(scope, "ip", ip, window=3600)
    by_email = hit(scope, "email", email, window=3600)
    return by_ip <= limit and by_email <= limit
