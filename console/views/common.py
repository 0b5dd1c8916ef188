"""Helpers shared by the console's views: page context, actor, admin history, messages, redirects.

Views parse the form, call one service with `Actor.for_user(request.user)`, write the admin
LogEntry and redirect; domain errors become messages. Permissions are declared per route in
`console.urls` and checked before the view runs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from console import selectors, services
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from orders.models import Order


def display_today() -> date:
    """Today where the staff work (`OMS_DISPLAY_TIME_ZONE`): after 22:00 UTC it is already tomorrow
    in Sofia, and a phone order for "today" in UTC would be in the past."""
    return timezone.localdate(timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE))


def page_context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    """The admin site's context for a console page with its title."""
    return {**admin.site.each_context(request), "title": title, **extra}


def actor(request: HttpRequest, channel: str = "") -> Actor:
    return Actor.for_user(request.user, channel=channel)


def audit(request: HttpRequest, obj: Any, message: str) -> None:
    """The admin history entry of a console action (LogEntry, action CHANGE)."""
    services.audit_log(user_id=request.user.pk, obj=obj, message=message)


def error_text(error: DomainError) -> str:
    """A domain error's detail and its field errors (flattened) as one message."""
    parts = [str(error.detail)]

    def walk(value: Any, prefix: str = "") -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(sub, f"{prefix}{key}: " if key else prefix)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(sub, prefix)
        elif value and str(value) != str(error.detail):
            text = f"{prefix}{value}"
            if text not in parts:
                parts.append(text)

    walk(error.errors)
    return " ".join(parts)


def form_error_text(form) -> str:
    return " ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in form.errors.items())


def order_url(order: Order) -> str:
    return reverse("admin:console-order", args=[order.pk])


def act(request: HttpRequest, audit_obj: Any, done: str, call: Callable[[], Any], back: str) -> HttpResponse:
    """Run a service call; success → LogEntry + message, domain error → error message. Redirect back."""
    try:
        call()
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        audit(request, audit_obj, done)
        messages.success(request, done)
    return redirect(back)


def post_only(request: HttpRequest) -> None:
    if request.method != "POST":
        raise Http404


def safe_back(request: HttpRequest, default: str) -> str:
    """The form's `next` when it is a path inside the admin, else `default`."""
    back = request.POST.get("next") or ""
    return back if back.startswith("/admin/") and "//" not in back else default


def form_error_redirect(request: HttpRequest, form, back: str) -> HttpResponse:
    """The form's errors as one error message, and back."""
    messages.error(request, form_error_text(form))
    return redirect(back)


def order_action(request: HttpRequest, pk: int, form_class, done: str, call: Callable[[Order, Any], Any]):
    """A form-driven action on one order: parse the form, call the service, back to the order page."""
    post_only(request)
    order = selectors.order_get(pk=pk)
    form = form_class(request.POST)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(order))
    return act(request, order, done, lambda: call(order, form), order_url(order))
