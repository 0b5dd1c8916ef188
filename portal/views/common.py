"""Helpers shared by the portal's views: the signed-in customer, display time zone, errors, map."""

from __future__ import annotations

import functools
import json
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from oms.exceptions import DomainError
from orders.models import Fulfilment, Order, OrderStatus
from portal import selectors

# Nothing moves any more on these orders: the jobs fragment stops polling. (A delivered order keeps
# polling a little longer: its EPOD PDF is rendered by a worker after the delivery.)
FINISHED = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED})
# A truck may still come to an order for delivery in these states: its page shows a map even while no
# marker is there yet (the polled fragment brings them in).
TRUCKS_EXPECTED = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.CONFIRMED,
        OrderStatus.SCHEDULED,
        OrderStatus.IN_DELIVERY,
        OrderStatus.PARTIALLY_DELIVERED,
    }
)


def display_tz(view):
    """Times in the view's page are shown in the display time zone."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        timezone.activate(settings.OMS_DISPLAY_TIME_ZONE)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def portal_view(view):
    """Signed in, acting for one customer (`request.customer`); times shown in the display zone."""

    @login_required
    @display_tz
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        customers = list(selectors.customers_for_user(user=request.user))
        if not customers:
            return render(request, "portal/no_access.html", status=403)
        wanted = request.session.get("portal_customer")
        request.customer = next((c for c in customers if c.pk == wanted), customers[0])
        request.portal_customers = customers
        return view(request, *args, **kwargs)

    return wrapper


def errors(error: DomainError) -> list[str]:
    """The messages of a domain error, flattened (field errors may nest per line)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(error.errors)
    messages_ = [str(error.detail)] + [m for m in found if m != error.detail]
    return [_(m) for m in messages_]


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def map_context(order: Order, jobs, *, include_site: bool) -> dict[str, Any]:
    """The map's markers (JSON for the map, a list for their text equivalent), tiles, whether the page
    has a map at all (the map library loads only then) and whether the page keeps polling."""
    points = selectors.map_points(order, jobs, include_site=include_site)
    return {
        "map_points": json.dumps(points),
        "map_places": points,
        "has_map": bool(points)
        or (order.fulfilment == Fulfilment.DELIVERY and order.status in TRUCKS_EXPECTED),
        "tile_url": settings.MAP_TILE_URL,
        "live": order.status not in FINISHED,
    }
