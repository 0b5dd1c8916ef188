"""Rate limits for the portal's sign-up, invitation and password-reset emails: per IP and per address.

Hourly windows counted by `oms.lib.throttle.hit` (the counter of every other write limit: Redis when
configured, else the cache; let through uncounted if Redis is down). Keys hash the address so no email
sits in Redis. Wrong passwords are counted by django-axes (`oms.lib.signin`).
"""

from __future__ import annotations

import hashlib

from django.conf import settings

from oms.lib.throttle import hit

HOUR = 3600


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]


def email_request_wait(*, scope: str, email: str, ip: str) -> int | None:
    """Count a sign-up, invitation or reset request; the seconds to wait once the IP or the address is
    over its hourly limit, else None. Both counters count every attempt."""
    limit = settings.OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR
    waits = [
        hit(f"email:{scope}:{part}:{_digest(value)}", limit=limit, window=HOUR)
        for part, value in (("ip", ip), ("address", email))
    ]
    refused = [wait for wait in waits if wait is not None]
    return max(refused) if refused else None
