"""Reads of the portal: everything is scoped to one customer (anything else is a 404).

Fleet data (job status, ETA, truck position) is read straight from the fleet models; the fleet
services own the writes.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from catalog.models import Product, StockLevel
from customers.models import Customer, PortalAccess, Site
from fleet.models import Job, JobStatus, Message, ProofOfDelivery
from fleet.selectors import TRUCK_VISIBLE_STATUSES
from orders.models import Order, OrderEvent, OrderLine, ReturnRequest, ReturnStatus
from orders.selectors import active_product

# Returns still open: the quantities they claim cannot be requested again.
OPEN_RETURN_STATUSES = frozenset(
    {ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED}
)
PAGE_SIZE = 25


def customers_for_user(*, user) -> QuerySet[Customer]:
    """The active customers the user may act for, by name."""
    return Customer.objects.filter(
        pk__in=PortalAccess.objects.filter(user=user).values("customer_id"),
        merged_into__isnull=True,
        active=True,
    ).order_by("name", "pk")


def first_customer_for_user(*, user) -> Customer | None:
    """The first of `customers_for_user` (the one a fresh session acts for), or None."""
    return customers_for_user(user=user).first()


# --- accounts ----------------------------------------------------------------------------------


def login_exists(*, email: str) -> bool:
    """Whether a login with this address (username, case-insensitive) exists."""
    return get_user_model().objects.filter(username__iexact=email).exists()


def signup_customer(*, public_id: str) -> Customer:
    """The active, not merged customer a sign-up link is for (raises Customer.DoesNotExist)."""
    return Customer.objects.get(public_id=public_id, merged_into__isnull=True, active=True)


def portal_users(*, customer: Customer) -> QuerySet:
    """The customer's portal logins by username (name and last login only)."""
    return customer.users.order_by("username").only("username", "first_name", "last_login")


# --- sites and orders ----------------------------------------------------------------------------


def site_list(*, customer: Customer) -> QuerySet[Site]:
    """The customer's active delivery sites by name."""
    return Site.objects.filter(customer=customer, active=True).order_by("name", "pk")


def site_get(*, customer: Customer, public_id) -> Site:
    """One active site of the customer, or 404."""
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


def returnable_quantities(order: Order) -> dict[int, Decimal]:
    """Per order line id: delivered − returned − what open returns already claim.

    Reads the lines, returns and return lines prefetched by `order_get`.
    """
    pending: dict[int, Decimal] = {}
    for ret in order.returns.all():
        if ret.status in OPEN_RETURN_STATUSES:
            for rl in ret.lines.all():
                pending[rl.order_line_id] = pending.get(rl.order_line_id, 0) + rl.quantity
    return {line.pk: line.delivered - line.returned - pending.get(line.pk, 0) for line in order.lines.all()}


def order_jobs(*, customer: Customer, number: str) -> tuple[Order, list[Job]]:
    """The customer's order with its site and its live jobs (the polled fragment), or 404."""
    order = get_object_or_404(Order.objects.filter(customer=customer).select_related("site"), number=number)
    return order, list(_jobs().filter(order=order))


def order_messages(*, order: Order) -> QuerySet[Message]:
    """The order's customer thread (messages not about one job), oldest first."""
    return Message.objects.filter(order=order, job__isnull=True).order_by("at", "pk")


def epod_get(*, customer: Customer, number: str, ticket: str) -> ProofOfDelivery:
    """The proof of delivery of one job of the customer's order, or 404."""
    return get_object_or_404(
        ProofOfDelivery.objects.select_related("job__order"),
        job__order__customer=customer,
        job__order__number=number,
        job__ticket=ticket,
    )


def order_for_tracking(*, token: str) -> tuple[Order, list[Job]]:
    """The order of a tracking link (only the fields the public page shows) and its jobs, or 404."""
    order = get_object_or_404(
        Order.objects.only(
            "number",
            "status",
            "fulfilment",
            "requested_date",
            "window_from",
            "window_to",
            "on_call",
            "tracking_token",
        ),
        tracking_token=token,
    )
    return order, list(_jobs().filter(order=order))


def product_choices() -> QuerySet[Product]:
    """Active products by SKU (the order form's choices)."""
    return Product.objects.filter(active=True).order_by("sku")


def product_availability(*, sku: str) -> tuple[Product | None, list[StockLevel]]:
    """The active product with this SKU and its stock per active plant (none when made to order)."""
    product = active_product(sku=sku)
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
