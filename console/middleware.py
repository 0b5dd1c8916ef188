"""Staff access rules that hold on every URL: session lifetimes, the second factor, local times.

A staff session ends after `OMS_STAFF_SESSION_IDLE_SECONDS` without a request and at the latest
`OMS_STAFF_SESSION_MAX_SECONDS` after sign-in (customers keep Django's session age). A staff user who
has a second factor, or must have one (`OMS_STAFF_2FA_REQUIRED`), and has not yet given a code in
this session reaches nothing but the second-factor pages and sign-out: every other URL, the whole
admin site with the console in it included, sends them to the code (or enrolment) page.

Staff read and enter times in the display time zone (`OMS_DISPLAY_TIME_ZONE`), as customers do in
the portal: a dispatcher in Sofia sees a load at 08:30, not 06:30 UTC, in the console and the admin.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from console.second_factor import has_second_factor, is_staff_user

SIGNED_IN_AT = "staff_signed_in_at"
# Whether the user held a staff role at sign-in: decided once, so customers' requests cost no query.
# The admin site's own test (`is_staff`) is read live on every request.
STAFF_ROLE = "staff_role"
LAST_SEEN_AT = "staff_last_seen_at"
# The last-seen time is written at most this often, so a busy console does not save its session on
# every request; idle time is measured to within this many seconds.
LAST_SEEN_RESOLUTION = 60
# Reachable before the second factor is given.
OPEN_URL_NAMES = (
    "admin:login",
    "admin:logout",
    "admin:second-factor-verify",
    "admin:second-factor-enrol",
    "portal:logout",
)
OPEN_PREFIXES = ("/i18n/",)


def mark_signed_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: the start of the session's absolute lifetime, and who signed in."""
    now = int(time.time())
    request.session[SIGNED_IN_AT] = now
    request.session[LAST_SEEN_AT] = now
    request.session[STAFF_ROLE] = is_staff_user(user)


class StaffAccessMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated and _is_staff(request):
            if _session_expired(request):
                logout(request)
                messages.info(request, _("Your staff session has ended. Please sign in again."))
                return _redirect_with_next("admin:login", request)
            if _needs_code(request):
                target = (
                    "admin:second-factor-verify" if has_second_factor(user) else "admin:second-factor-enrol"
                )
                return _redirect_with_next(target, request)
            with timezone.override(settings.OMS_DISPLAY_TIME_ZONE):
                return self.get_response(request)
        return self.get_response(request)


def _is_staff(request: HttpRequest) -> bool:
    user = request.user
    if user.is_staff or user.is_superuser:
        return True
    if STAFF_ROLE not in request.session:  # a session from before this rule
        request.session[STAFF_ROLE] = is_staff_user(user)
    return request.session[STAFF_ROLE]


def _session_expired(request: HttpRequest) -> bool:
    session, now = request.session, int(time.time())
    signed_in = session.setdefault(SIGNED_IN_AT, now)
    last_seen = session.get(LAST_SEEN_AT, now)
    if now - last_seen > settings.OMS_STAFF_SESSION_IDLE_SECONDS:
        return True
    if now - signed_in > settings.OMS_STAFF_SESSION_MAX_SECONDS:
        return True
    if LAST_SEEN_AT not in session or now - last_seen >= LAST_SEEN_RESOLUTION:
        session[LAST_SEEN_AT] = now
        session.set_expiry(settings.OMS_STAFF_SESSION_IDLE_SECONDS)
    return False


def _needs_code(request: HttpRequest) -> bool:
    user = request.user
    if user.is_verified() or _is_open(request.path):
        return False
    return settings.OMS_STAFF_2FA_REQUIRED or has_second_factor(user)


def _is_open(path: str) -> bool:
    return path.startswith(OPEN_PREFIXES) or path in {reverse(name) for name in OPEN_URL_NAMES}


def _redirect_with_next(url_name: str, request: HttpRequest) -> HttpResponse:
    url = reverse(url_name)
    if request.method == "GET":
        url += "?" + urlencode({"next": request.get_full_path()})
    return redirect(url)
