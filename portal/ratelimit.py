"""Small cache-based rate limits for the portal's sign-in, sign-up and password-reset forms.

Fixed windows counted with `cache.add` + `cache.incr` (atomic on Redis and locmem): good enough to
stop password guessing without a table of its own. Keys hash the username so no email sits in Redis.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def client_ip(request) -> str:
    """REMOTE_ADDR, or the address the N-th trusted proxy saw (X-Forwarded-For read from the right)."""
    proxies = settings.OMS_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _key(scope: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(p.strip().lower() for p in parts).encode()).hexdigest()[:32]
    return f"portal:rl:{scope}:{digest}"


def count(scope: str, *parts: str) -> int:
    return int(cache.get(_key(scope, *parts), 0))


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


def reset(scope: str, *parts: str) -> None:
    cache.delete(_key(scope, *parts))


# --- sign-in -----------------------------------------------------------------------------------


def login_blocked(*, username: str, ip: str) -> bool:
    return count("login", username, ip) >= settings.OMS_LOGIN_MAX_FAILURES


def login_failed(*, username: str, ip: str) -> None:
    hit("login", username, ip, window=settings.OMS_LOGIN_WINDOW_SECONDS)


def login_succeeded(*, username: str, ip: str) -> None:
    reset("login", username, ip)


# --- sign-up and password reset ----------------------------------------------------------------


def email_request_allowed(*, scope: str, email: str, ip: str) -> bool:
    """Count a sign-up / reset request; False once the IP or the address is over its hourly limit."""
    limit = settings.OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR
    by_ip = hit(scope, "ip", ip, window=3600)
    by_email = hit(scope, "email", email, window=3600)
    return by_ip <= limit and by_email <= limit
