"""The public tracking page (/track/<token>/): no sign-in, no personal data."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from portal import selectors
from portal.views.common import display_tz, is_htmx, map_context


@display_tz
@require_GET
def track_page(request: HttpRequest, token: str) -> HttpResponse:
    """Public: status, ETA and truck position of one order. No names, addresses, prices or contacts."""
    if len(token) > 64:
        raise Http404
    order, jobs = selectors.order_for_tracking(token=token)
    context = {"order": order, "jobs": jobs, "token": token, **map_context(order, jobs, include_site=False)}
    template = "track/_status.html" if is_htmx(request) else "track/page.html"
    response = render(request, template, context)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response
