"""Reads of the portal: everything is scoped to one customer (anything else is a 404).

Fleet data (job status, ETA, truck position) is read straight from the fleet models; the fleet
services own the writes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from catalog.models import Product, StockLevel
from customers.models import Customer, PortalAccess, Site
from fleet.models import Job, JobStatus, Message, ProofOfDelivery
from orders.models import Order, OrderEvent, OrderLine, ReturnRequest

# Job statuses in which the truck's position is shown (to the customer and on the public page).
TRUCK_VISIBLE_STATUSES = frozenset({JobStatus.EN_ROUTE, JobStatus.ARRIVED, JobStatus.UNLOADING})
PAGE_SIZE = 25


def customers_for_user(*, user) -> QuerySet[Customer]:
    return Customer.objects.filter(
        pk__in=PortalAccess.objects.filter(user=user).values("customer_id"),
        merged_into__isnull=True,
        active=True,
    ).order_by("name", "pk")


def site_list(*, customer: Customer) -> QuerySet[Site]:
    return Site.objects.filter(customer=customer, active=True).order_by("name", "pk")


def site_get(*, customer: Customer, public_id) -> Site:
    return get_object_or_404(Site, customer=customer, public_id=public_id, active=True)


def order_list(*, customer: Customer) -> QuerySet[Order]:
    """All the customer's orders whatever the channel, newest first (keyset: created_at, id)."""
    return Order.objects.filter(customer=customer).select_related("site").order_by("-created_at", "-id")


def _jobs() -> QuerySet[Job]:
    return (
        Job.objects.exclude(status=JobStatus.CANCELLED)
        .select_related("tour__truck", "epod")
        .order_by("planned_at", "pk")
    )


def order_get(*, customer: Customer, number: str) -> Order:
    """One order of the customer with lines, customer-visible timeline, jobs, messages and returns."""
    queryset = (
        Order.objects.filter(customer=customer)
        .select_related("site", "plant")
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("position")),
            Prefetch(
                "events", queryset=OrderEvent.objects.filter(visible_to_customer=True).order_by("at", "pk")
            ),
            Prefetch("jobs", queryset=_jobs()),
            Prefetch("messages", queryset=Message.objects.filter(job__isnull=True).order_by("at", "pk")),
            Prefetch(
                "returns",
                queryset=ReturnRequest.objects.order_by("created_at", "pk").prefetch_related(
                    "lines__order_line"
                ),
            ),
        )
    )
    return get_object_or_404(queryset, number=number)


def order_get_plain(*, customer: Customer, number: str) -> Order:
    """The order only (for actions whose service locks and re-reads it)."""
    return get_object_or_404(
        Order.objects.filter(customer=customer).prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.order_by("position"))
        ),
        number=number,
    )


def order_jobs(*, customer: Customer, number: str) -> tuple[Order, list[Job]]:
    order = get_object_or_404(Order.objects.filter(customer=customer).select_related("site"), number=number)
    return order, list(_jobs().filter(order=order))


def order_messages(*, order: Order) -> QuerySet[Message]:
    return Message.objects.filter(order=order, job__isnull=True).order_by("at", "pk")


def epod_get(*, customer: Customer, number: str, ticket: str) -> ProofOfDelivery:
    return get_object_or_404(
        ProofOfDelivery.objects.select_related("job__order"),
        job__order__customer=customer,
        job__order__number=number,
        job__ticket=ticket,
    )


def order_for_tracking(*, token: str) -> tuple[Order, list[Job]]:
    order = get_object_or_404(
        Order.objects.only(
            "number", "status", "requested_date", "window_from", "window_to", "on_call", "tracking_token"
        ),
        tracking_token=token,
    )
    return order, list(_jobs().filter(order=order))


def product_choices() -> QuerySet[Product]:
    return Product.objects.filter(active=True).order_by("sku")


def product_availability(*, sku: str) -> tuple[Product | None, list[StockLevel]]:
    product = Product.objects.filter(active=True, sku=sku).first()
    if product is None or not product.stocked:
        return product, []
    levels = list(
        StockLevel.objects.filter(product=product, plant__active=True)
        .select_related("plant")
        .order_by("plant__code")
    )
    return product, levels


def map_points(order: Order, jobs: list[Job], *, include_site: bool) -> list[dict]:
    """Markers for the Leaflet map: the site (portal only) and trucks currently on the way."""
    points: list[dict] = []
    if include_site and order.site_id and order.site.lat is not None and order.site.lon is not None:
        points.append(
            {"kind": "site", "lat": order.site.lat, "lon": order.site.lon, "label": order.site.name}
        )
    for job in jobs:
        truck = job.tour.truck if job.tour_id else None
        if (
            truck is not None
            and job.status in TRUCK_VISIBLE_STATUSES
            and truck.last_lat is not None
            and truck.last_lon is not None
        ):
            points.append(
                {"kind": "truck", "lat": truck.last_lat, "lon": truck.last_lon, "label": job.ticket}
            )
    return points


# --- keyset pagination -------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def encode_cursor(order: Order) -> str:
    raw = f"{order.created_at.isoformat()}|{order.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, pk = raw.split("|", 1)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None:
            return None
        return when, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def keyset_page(queryset: QuerySet[Order], *, cursor: str | None, size: int = PAGE_SIZE) -> Page:
    """One page of a queryset ordered by (-created_at, -id), after `cursor`: one query."""
    if cursor and (position := decode_cursor(cursor)):
        when, pk = position
        queryset = queryset.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    items = list(queryset[: size + 1])
    has_more = len(items) > size
    items = items[:size]
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if has_more and items else None)
