"""Sign-in protection shared by every login form: the admin site (and the console in it) and the portal.

django-axes counts wrong passwords per account and per client IP (`AXES_*` in the settings): a locked
account stays locked from every address, and an IP that sprays many accounts is locked for all of
them. Its backend refuses a locked attempt before any password hash is computed. This module gives
axes the client IP (the one definition every rate limit uses), the username as the account is known
(case and spaces don't make a new account to guess at) and the 429 answer, and gives the login forms
the message that says why.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import ngettext


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, or the address the N-th trusted proxy saw (X-Forwarded-For read from the right);
    "" when neither is an IP address."""
    proxies = settings.OMS_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= proxies and _is_ip(forwarded[-proxies]):
            return forwarded[-proxies]
    remote = request.META.get("REMOTE_ADDR", "")
    return remote if _is_ip(remote) else ""


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def login_username(request: HttpRequest, credentials: dict | None) -> str | None:
    """The username an attempt is counted against (axes' `AXES_USERNAME_CALLABLE`)."""
    raw = (credentials or {}).get("username") or request.POST.get("username") or ""
    return raw.strip().lower() or None


def locked_message() -> str:
    minutes = max(1, settings.OMS_LOGIN_WINDOW_SECONDS // 60)
    return ngettext(
        "Too many failed sign-in attempts. Sign-in is locked for %(minutes)d minute.",
        "Too many failed sign-in attempts. Sign-in is locked for %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """The sign-in page as its view rendered it (the form says it is locked), answered with 429."""
    if original_response is None:
        return HttpResponse(locked_message(), status=429, content_type="text/plain; charset=utf-8")
    original_response.status_code = 429
    return original_response


class LockoutAwareLoginMixin:
    """For an `AuthenticationForm`: a refused sign-in of a locked account or IP says so, not
    "wrong password" (axes marks the request when it locks or refuses)."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if getattr(self.request, "axes_locked_out", False):
                raise ValidationError(locked_message(), code="locked") from None
            raise
