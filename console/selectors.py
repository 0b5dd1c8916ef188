"""Reads of the rep and dispatcher console: unified search, customer 360, order page, queues, board.

Every function returns rows with their relations loaded; the views build no queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from customers.models import Customer, CustomerEvent, PortalAccess, Site
from customers.services import normalize_phone
from fleet import selectors as fleet_selectors
from fleet.models import (
    CallRequest,
    Driver,
    Job,
    JobLine,
    JobStatus,
    Message,
    SenderRole,
    Tour,
    TourStatus,
    Truck,
)
from oms.exceptions import ValidationError
from oms.models import ExternalRef, OutboxMessage, OutboxStatus
from orders.models import Order, OrderEvent, OrderLine, OrderStatus, ReturnRequest, ReturnStatus

SEARCH_LIMIT = 20
# Substring matches are fetched unordered (any CANDIDATES of them) and ranked in Python. Asking the
# database for "newest first" makes it walk the primary key backwards past every non-matching row
# when the matches are old: 950 ms for "SO-1" on 1,000,000 orders, against 1 ms unordered.
CANDIDATES = 200
# Substring search needs 3 characters: below that a trigram index cannot help and every row matches.
MIN_SUBSTRING = 3

# ---------------------------------------------------------------------------------------------
# Unified search
# ---------------------------------------------------------------------------------------------


@dataclass
class SearchResults:
    query: str
    orders: list[Order] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    # Why each order matched (pk → label), shown next to the result.
    order_reasons: dict[int, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.orders) + len(self.customers) + len(self.sites) + len(self.jobs)


def _phone(q: str) -> str:
    digits = sum(ch.isdigit() for ch in q)
    if digits < 6:
        return ""
    try:
        return normalize_phone(q)
    except ValidationError:
        return ""


def _rank_text(value: str, q: str) -> int:
    """0 exact, 1 prefix, 2 substring, 3 elsewhere (case-insensitive)."""
    value, q = (value or "").upper(), q.upper()
    if value == q:
        return 0
    if value.startswith(q):
        return 1
    if q in value:
        return 2
    return 3


def _merge(*groups: list, limit: int) -> list:
    seen: set[int] = set()
    out = []
    for group in groups:
        for obj in group:
            if obj.pk not in seen:
                seen.add(obj.pk)
                out.append(obj)
    return out[:limit]


def _orders_qs() -> QuerySet[Order]:
    return Order.objects.select_related("customer", "plant", "erp_system").only(
        "id",
        "number",
        "status",
        "channel",
        "external_ref",
        "erp_order_number",
        "requested_date",
        "gross_total",
        "currency",
        "created_at",
        "customer__id",
        "customer__number",
        "customer__name",
        "plant__id",
        "plant__code",
        "erp_system__id",
        "erp_system__code",
    )


def console_search(*, q: str, limit: int = SEARCH_LIMIT) -> SearchResults:
    """Orders, customers, sites and jobs matching `q`, best first.

    Exact identifiers (order number, external ref, ERP order number, ticket, customer number, email,
    phone, ERP external id) rank first, then prefixes, then substrings (newest first). A customer
    found by an exact identifier brings their latest orders. On PostgreSQL the substring scans use
    the trigram indexes of migration oms.0005; on SQLite they are plain `icontains`.
    """
    q = " ".join((q or "").split())[:100]
    results = SearchResults(query=q)
    if not q:
        return results
    upper = q.upper()
    phone = _phone(q)
    # Digits as typed, without the trunk 0 ("0888 123 456" → "888123456"): a substring of the E.164.
    digits = "".join(ch for ch in q if ch.isdigit()).lstrip("0")
    phone_digits = digits if len(digits) >= 6 and not any(ch.isalpha() for ch in q) else ""
    substring = len(q) >= MIN_SUBSTRING

    # --- ERP references (any system): orders and customers known under an ERP id -------------
    ref_hits = list(
        ExternalRef.objects.filter(
            Q(external_id__iexact=q) | (Q(external_id__icontains=q) if substring else Q(pk__in=[]))
        )
        .select_related("content_type", "system")
        .order_by()[:CANDIDATES]
    )
    ref_ids: dict[str, list[str]] = {}
    for ref in ref_hits:
        ref_ids.setdefault(ref.content_type.model, []).append(ref.object_id)

    # --- customers -----------------------------------------------------------------------------
    exact_c = Q(number__iexact=q) | Q(email__iexact=q)
    if phone:
        exact_c |= Q(phone=phone)
    customers_base = Customer.objects.filter(merged_into__isnull=True)
    exact_customers = list(customers_base.filter(exact_c).order_by("-id")[:limit])
    by_ref = list(customers_base.filter(pk__in=ref_ids.get("customer", [])).order_by("-id")[:limit])
    fuzzy_customers: list[Customer] = []
    if substring:
        cond = Q(name__icontains=q) | Q(number__icontains=q) | Q(email__icontains=q)
        if phone or phone_digits:
            cond |= Q(phone__icontains=phone or phone_digits)
        fuzzy_customers = list(customers_base.filter(cond).order_by()[:CANDIDATES])
        fuzzy_customers.sort(
            key=lambda c: (min(_rank_text(c.name, q), _rank_text(c.number, q), _rank_text(c.email, q)), -c.pk)
        )
    results.customers = _merge(exact_customers, by_ref, fuzzy_customers, limit=limit)

    # --- orders --------------------------------------------------------------------------------
    exact_o = list(
        _orders_qs()
        .filter(Q(number=upper) | Q(number=q) | Q(external_ref__iexact=q) | Q(erp_order_number=q))
        .order_by("-created_at", "-id")[:limit]
    )
    for order in exact_o:
        results.order_reasons[order.pk] = "exact"
    by_ref_o = list(
        _orders_qs().filter(pk__in=ref_ids.get("order", [])).order_by("-created_at", "-id")[:limit]
    )
    for order in by_ref_o:
        results.order_reasons.setdefault(order.pk, "erp_ref")
    via_customer: list[Order] = []
    anchors = exact_customers or by_ref
    if anchors:
        via_customer = list(
            _orders_qs().filter(customer__in=anchors[:3]).order_by("-created_at", "-id")[:limit]
        )
        for order in via_customer:
            results.order_reasons.setdefault(order.pk, "customer")
    fuzzy_o: list[Order] = []
    if substring:
        fuzzy_o = list(
            _orders_qs()
            .filter(Q(number__icontains=q) | Q(external_ref__icontains=q) | Q(erp_order_number__icontains=q))
            .order_by()[:CANDIDATES]
        )
        fuzzy_o.sort(
            key=lambda o: (
                min(
                    _rank_text(o.number, q), _rank_text(o.external_ref, q), _rank_text(o.erp_order_number, q)
                ),
                -o.pk,
            )
        )
        for order in fuzzy_o:
            results.order_reasons.setdefault(order.pk, "partial")
    # Orders of customers found by name come last.
    via_name: list[Order] = []
    if not anchors and results.customers and len(results.orders) < limit:
        via_name = list(
            _orders_qs().filter(customer__in=results.customers[:3]).order_by("-created_at", "-id")[:limit]
        )
        for order in via_name:
            results.order_reasons.setdefault(order.pk, "customer")
    results.orders = _merge(exact_o, by_ref_o, via_customer, fuzzy_o, via_name, limit=limit)
    for order in results.orders:
        order.match = results.order_reasons.get(order.pk, "")

    # --- jobs (tickets) ----------------------------------------------------------------------
    jobs_qs = Job.objects.select_related("order", "tour__truck", "plant")
    exact_j = list(jobs_qs.filter(ticket__iexact=q)[:limit])
    fuzzy_j = list(jobs_qs.filter(ticket__icontains=q).order_by()[:CANDIDATES]) if substring else []
    fuzzy_j.sort(key=lambda j: (_rank_text(j.ticket, q), -j.pk))
    results.jobs = _merge(exact_j, fuzzy_j, limit=limit)

    # --- sites -------------------------------------------------------------------------------
    if substring:
        cond = Q(name__icontains=q) | Q(address__icontains=q) | Q(city__icontains=q)
        if phone:
            cond |= Q(contact_phone=phone)
        sites = list(Site.objects.filter(cond).select_related("customer").order_by()[:CANDIDATES])
        sites.sort(key=lambda s: (min(_rank_text(s.name, q), _rank_text(s.address, q)), -s.pk))
        results.sites = sites[:limit]
    return results


# ---------------------------------------------------------------------------------------------
# Customer 360
# ---------------------------------------------------------------------------------------------

OPEN_CALLS = (CallRequest.Status.OPEN, CallRequest.Status.IN_PROGRESS)
OPEN_RETURNS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED)


def erp_refs_of(obj) -> list[ExternalRef]:
    ct = ContentType.objects.get_for_model(type(obj))
    return list(
        ExternalRef.objects.filter(content_type=ct, object_id=str(obj.pk))
        .select_related("system")
        .order_by("system__code", "entity_type")
    )


def customer_360(*, customer: Customer, order_limit: int = 50) -> dict[str, Any]:
    """Everything a rep needs about one customer on one page."""
    orders = list(
        Order.objects.filter(customer=customer)
        .select_related("plant", "site", "erp_system")
        .order_by("-created_at", "-id")[:order_limit]
    )
    return {
        "customer": customer,
        "sites": list(customer.sites.order_by("-active", "name")),
        "orders": orders,
        "order_count": Order.objects.filter(customer=customer).count(),
        "order_counts_by_channel": dict(
            Order.objects.filter(customer=customer)
            .values("channel")
            .annotate(n=Count("id"))
            .values_list("channel", "n")
        ),
        "callbacks": list(
            CallRequest.objects.filter(
                Q(customer=customer) | Q(order__customer=customer), status__in=OPEN_CALLS
            )
            .select_related("order", "assigned_to")
            .order_by("due_at", "pk")
        ),
        "customer_messages": list(
            Message.objects.filter(order__customer=customer)
            .select_related("order")
            .order_by("-at", "-pk")[:20]
        ),
        "returns": list(
            ReturnRequest.objects.filter(order__customer=customer)
            .select_related("order")
            .order_by("-created_at", "-pk")[:20]
        ),
        "erp_refs": erp_refs_of(customer),
        "portal_users": list(
            PortalAccess.objects.filter(customer=customer).select_related("user").order_by("created_at")
        ),
        "events": list(CustomerEvent.objects.filter(customer=customer).order_by("-at", "-pk")[:20]),
        "merged": list(Customer.objects.filter(merged_into=customer).order_by("number")),
    }


# ---------------------------------------------------------------------------------------------
# Order page
# ---------------------------------------------------------------------------------------------

# How the console shows an outbox message's status (pending / sent / acknowledged / failed).
SYNC_PENDING, SYNC_SENT, SYNC_ACK, SYNC_FAILED = "pending", "sent", "acknowledged", "failed"


def sync_state(message: OutboxMessage | None) -> str:
    if message is None:
        return ""
    if message.status == OutboxStatus.PENDING:
        return SYNC_PENDING
    if message.status == OutboxStatus.SENT:
        return SYNC_ACK if message.erp_ack else SYNC_SENT
    return SYNC_FAILED


def order_for_console() -> QuerySet[Order]:
    return Order.objects.select_related(
        "customer", "site", "plant", "sales_point", "erp_system", "created_by"
    )


def order_page(*, order: Order) -> dict[str, Any]:
    """Lines, the unified timeline with each event's ERP sync state, jobs with trucks and EPODs."""
    lines = list(OrderLine.objects.filter(order=order).order_by("position"))
    events = list(
        OrderEvent.objects.filter(order=order).select_related("outbox_message").order_by("at", "pk")
    )
    for event in events:
        event.sync_state = sync_state(event.outbox_message)
        event.dead = bool(event.outbox_message and event.outbox_message.status == OutboxStatus.DEAD)
    jobs = list(
        Job.objects.filter(order=order)
        .select_related("tour__truck", "tour__driver", "plant", "epod")
        .prefetch_related(Prefetch("lines", queryset=JobLine.objects.select_related("order_line")))
        .order_by("planned_at", "pk")
    )
    returns = list(
        ReturnRequest.objects.filter(order=order)
        .prefetch_related("lines__order_line")
        .order_by("-created_at", "-pk")
    )
    dead = list(
        OutboxMessage.objects.filter(
            aggregate_type="order", aggregate_id=order.number, status=OutboxStatus.DEAD
        ).order_by("sequence")
    )
    truck_points = [
        {
            "kind": "truck",
            "lat": job.tour.truck.last_lat,
            "lon": job.tour.truck.last_lon,
            "label": f"{job.tour.truck.code} · {job.ticket}",
        }
        for job in jobs
        if job.tour_id and job.tour.truck.last_lat is not None and job.status not in CLOSED_JOB
    ]
    site = order.site
    if site is not None and site.lat is not None:
        truck_points.append({"kind": "site", "lat": site.lat, "lon": site.lon, "label": site.name})
    return {
        "order": order,
        "lines": lines,
        "events": events,
        "jobs": jobs,
        "returns": returns,
        "dead_messages": dead,
        "order_messages": list(Message.objects.filter(order=order).order_by("-at", "-pk")[:20]),
        "erp_refs": erp_refs_of(order),
        "map_points": truck_points,
    }


# ---------------------------------------------------------------------------------------------
# Queues
# ---------------------------------------------------------------------------------------------


def callback_queue(*, now: datetime | None = None) -> list[CallRequest]:
    """Open and in-progress call-backs, due first; `overdue` set on each."""
    now = now or timezone.now()
    rows = list(
        CallRequest.objects.filter(status__in=OPEN_CALLS)
        .select_related("customer", "order", "job", "assigned_to")
        .order_by("due_at", "pk")
    )
    for row in rows:
        row.overdue = row.due_at < now
    return rows


def approval_queue() -> dict[str, list]:
    """Cancellation requests and return requests waiting for a rep's decision."""
    return {
        "cancellations": list(
            Order.objects.filter(status=OrderStatus.CANCELLATION_REQUESTED)
            .select_related("customer", "plant")
            .order_by("updated_at", "pk")
        ),
        "returns": list(
            ReturnRequest.objects.filter(status=ReturnStatus.REQUESTED)
            .select_related("order__customer")
            .prefetch_related("lines__order_line")
            .order_by("created_at", "pk")
        ),
    }


INBOUND_SENDERS = (SenderRole.CUSTOMER, SenderRole.DRIVER)


def messages_awaiting_reply() -> list[Message]:
    """Unread messages from customers and drivers, oldest first."""
    return list(
        Message.objects.filter(sender_role__in=INBOUND_SENDERS, read_at__isnull=True)
        .select_related("order__customer", "job", "tour")
        .order_by("at", "pk")
    )


def queue_counts() -> dict[str, int]:
    return {
        "callbacks": CallRequest.objects.filter(status__in=OPEN_CALLS).count(),
        "overdue": CallRequest.objects.filter(status__in=OPEN_CALLS, due_at__lt=timezone.now()).count(),
        "cancellations": Order.objects.filter(status=OrderStatus.CANCELLATION_REQUESTED).count(),
        "returns": ReturnRequest.objects.filter(status=ReturnStatus.REQUESTED).count(),
        "messages": Message.objects.filter(sender_role__in=INBOUND_SENDERS, read_at__isnull=True).count(),
    }


# ---------------------------------------------------------------------------------------------
# Dispatch board
# ---------------------------------------------------------------------------------------------

CLOSED_JOB = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED})
NOT_DEPARTED = frozenset({JobStatus.PLANNED, JobStatus.ASSIGNED, JobStatus.LOADING, JobStatus.LOADED})
OPEN_TOURS = (TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED)
# A truck position older than this is shown as stale on the map.
STALE_POSITION = timedelta(minutes=10)


def job_is_late(job: Job, now: datetime) -> bool:
    """Late: not yet left the plant after its planned time, or its ETA is past and it has not arrived."""
    if job.status in CLOSED_JOB:
        return False
    if job.planned_at and job.planned_at < now and job.status in NOT_DEPARTED:
        return True
    return bool(job.eta and job.eta < now and job.status == JobStatus.EN_ROUTE)


def dispatch_board(*, date: Date, plant_id: int | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Tours of the day per plant with their jobs, jobs waiting for a truck, trucks and their state."""
    now = now or timezone.now()
    tours_qs = (
        Tour.objects.filter(date=date)
        .select_related("plant", "truck", "driver")
        .prefetch_related(
            Prefetch(
                "jobs",
                queryset=Job.objects.select_related("order__customer").order_by("sequence", "pk"),
            )
        )
        .order_by("plant__code", "planned_start", "number")
    )
    unassigned_qs = (
        Job.objects.filter(tour__isnull=True, status=JobStatus.PLANNED)
        .filter(Q(planned_at__date__lte=date) | Q(planned_at__isnull=True))
        .select_related("order__customer", "plant")
        .prefetch_related(Prefetch("lines", queryset=JobLine.objects.select_related("order_line")))
        .order_by("planned_at", "pk")
    )
    trucks_qs = Truck.objects.filter(active=True).select_related("plant").order_by("plant__code", "code")
    if plant_id:
        tours_qs = tours_qs.filter(plant_id=plant_id)
        unassigned_qs = unassigned_qs.filter(plant_id=plant_id)
        trucks_qs = trucks_qs.filter(plant_id=plant_id)
    tours = list(tours_qs)
    busy_trucks: dict[int, Tour] = {}
    for tour in tours:
        tour.late_jobs = 0
        for job in tour.jobs.all():
            job.late = job_is_late(job, now)
            tour.late_jobs += job.late
        if tour.status in OPEN_TOURS:
            busy_trucks.setdefault(tour.truck_id, tour)
    open_tours = [
        t for t in tours if t.status in (TourStatus.PLANNED, TourStatus.RELEASED, TourStatus.STARTED)
    ]
    unassigned = list(unassigned_qs)
    for job in unassigned:
        job.late = job_is_late(job, now)
        job.load = sum((line.planned for line in job.lines.all()), start=0)
        job.tour_choices = [t for t in open_tours if t.plant_id == job.plant_id and t.driver_id]
    trucks = list(trucks_qs)
    for truck in trucks:
        truck.tour_today = busy_trucks.get(truck.pk)
        truck.stale = truck.last_position_at is None or truck.last_position_at < now - STALE_POSITION
    plants: dict[int, dict[str, Any]] = {}
    for tour in tours:
        plants.setdefault(tour.plant_id, {"plant": tour.plant, "tours": []})["tours"].append(tour)
    drivers_qs = Driver.objects.filter(active=True).select_related("plant").order_by("code")
    if plant_id:
        drivers_qs = drivers_qs.filter(plant_id=plant_id)
    return {
        "date": date,
        "plants": list(plants.values()),
        "tours": tours,
        "unassigned": unassigned,
        "trucks": trucks,
        "drivers": list(drivers_qs),
        "orders_to_plan": fleet_selectors.orders_to_plan(date=date, plant_id=plant_id),
        "late_count": sum(t.late_jobs for t in tours) + sum(j.late for j in unassigned),
    }


def truck_positions(*, plant_id: int | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Last known position of every active truck, for the dispatch map."""
    now = now or timezone.now()
    qs = Truck.objects.filter(active=True, last_lat__isnull=False, last_lon__isnull=False).select_related(
        "plant"
    )
    if plant_id:
        qs = qs.filter(plant_id=plant_id)
    return [
        {
            "kind": "truck",
            "code": t.code,
            "lat": t.last_lat,
            "lon": t.last_lon,
            "plant": t.plant.code,
            "at": t.last_position_at.isoformat() if t.last_position_at else None,
            "stale": t.last_position_at is None or t.last_position_at < now - STALE_POSITION,
            "label": f"{t.code} ({t.plant.code})",
        }
        for t in qs.order_by("code")
    ]


# ---------------------------------------------------------------------------------------------
# Exports
# ---------------------------------------------------------------------------------------------

EXPORT_FILTERS = (
    "status",
    "channel",
    "plant",
    "erp_sync_state",
    "fulfilment",
    "q",
    "created_from",
    "created_to",
)


def order_export_queryset(filters: dict[str, Any]) -> QuerySet[Order]:
    """The filtered order list of the export (same filters in the view and the Celery task)."""
    qs = Order.objects.select_related("customer", "plant", "erp_system", "site")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    if filters.get("plant"):
        qs = qs.filter(plant_id=filters["plant"])
    if filters.get("erp_sync_state"):
        qs = qs.filter(erp_sync_state=filters["erp_sync_state"])
    if filters.get("fulfilment"):
        qs = qs.filter(fulfilment=filters["fulfilment"])
    if filters.get("created_from"):
        qs = qs.filter(created_at__date__gte=filters["created_from"])
    if filters.get("created_to"):
        qs = qs.filter(created_at__date__lte=filters["created_to"])
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(external_ref__icontains=q)
            | Q(erp_order_number__icontains=q)
            | Q(customer__number__icontains=q)
            | Q(customer__name__icontains=q)
        )
    return qs.order_by("-created_at", "-id")
