"""Unified search of the console: orders, customers, sites and jobs for one query string."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from customers.models import Customer, Site
from customers.services import normalize_phone
from fleet.models import Job
from oms.exceptions import ValidationError
from oms.models import ExternalRef
from orders.models import Order

SEARCH_LIMIT = 20
# Substring matches are fetched unordered (any CANDIDATES of them) and ranked in Python. Asking the
# database for "newest first" makes it walk the primary key backwards past every non-matching row
# when the matches are old: 950 ms for "SO-1" on 1,000,000 orders, against 1 ms unordered.
CANDIDATES = 200
# Substring search needs 3 characters: below that a trigram index cannot help and every row matches.
MIN_SUBSTRING = 3
# Fewer digits than this are not searched in phone numbers: too many numbers contain them.
MIN_PHONE_DIGITS = 6


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


@dataclass(frozen=True)
class _Query:
    """The query string and what it may also be read as."""

    text: str
    phone: str  # normalised E.164 when it reads as a whole phone number
    phone_digits: str  # the digits as typed, when they may be (part of) a phone number
    substring: bool  # long enough for substring matches
    limit: int

    @classmethod
    def parse(cls, q: str, limit: int) -> _Query:
        phone = _phone(q)
        digits = "".join(ch for ch in q if ch.isdigit())
        phone_digits = digits if len(digits) >= MIN_PHONE_DIGITS and not any(ch.isalpha() for ch in q) else ""
        return cls(q, phone, phone_digits, len(q) >= MIN_SUBSTRING, limit)

    def phone_substrings(self) -> Q:
        """Stored phones containing what was typed: the digits as typed (the last digits of a number,
        or a whole number with its country code), the same without the trunk or international zeros
        ("0888 123 456" → "888123456", also for numbers the phone library does not accept) or, when
        it reads as a whole number, its E.164.

        The E.164 alone is not enough: the last 7 or 8 digits of a mobile number also read as a whole
        landline number ("2523283" is Sofia's +3592523283), which is no substring of +359882523283.
        """
        cond = Q(pk__in=[])
        for digits in dict.fromkeys((self.phone_digits, self.phone_digits.lstrip("0"))):
            if len(digits) >= MIN_PHONE_DIGITS:
                cond |= Q(phone__icontains=digits)
        if self.phone:
            cond |= Q(phone__icontains=self.phone)
        return cond


def _phone(q: str) -> str:
    digits = sum(ch.isdigit() for ch in q)
    if digits < MIN_PHONE_DIGITS:
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
    query = _Query.parse(q, limit)
    ref_ids = _erp_ref_ids(query)
    anchors = _search_customers(query, ref_ids, results)
    _search_orders(query, ref_ids, anchors, results)
    results.jobs = _search_jobs(query)
    if query.substring:
        results.sites = _search_sites(query)
    return results


def _erp_ref_ids(query: _Query) -> dict[str, list[str]]:
    """Ids of the objects known under a matching ERP external id (any system), per model name."""
    q = query.text
    ref_hits = list(
        ExternalRef.objects.filter(
            Q(external_id__iexact=q) | (Q(external_id__icontains=q) if query.substring else Q(pk__in=[]))
        )
        .select_related("content_type", "system")
        .order_by()[:CANDIDATES]
    )
    ref_ids: dict[str, list[str]] = {}
    for ref in ref_hits:
        ref_ids.setdefault(ref.content_type.model, []).append(ref.object_id)
    return ref_ids


def _search_customers(query: _Query, ref_ids: dict[str, list[str]], results: SearchResults) -> list[Customer]:
    """Fill `results.customers`; return the customers found by an exact identifier (or ERP id)."""
    q, limit = query.text, query.limit
    exact_c = Q(number__iexact=q) | Q(email__iexact=q)
    if query.phone:
        exact_c |= Q(phone=query.phone)
    customers_base = Customer.objects.filter(merged_into__isnull=True)
    exact_customers = list(customers_base.filter(exact_c).order_by("-id")[:limit])
    by_ref = list(customers_base.filter(pk__in=ref_ids.get("customer", [])).order_by("-id")[:limit])
    fuzzy_customers: list[Customer] = []
    if query.substring:
        cond = Q(name__icontains=q) | Q(number__icontains=q) | Q(email__icontains=q)
        if query.phone or query.phone_digits:
            cond |= query.phone_substrings()
        fuzzy_customers = list(customers_base.filter(cond).order_by()[:CANDIDATES])
        fuzzy_customers.sort(
            key=lambda c: (min(_rank_text(c.name, q), _rank_text(c.number, q), _rank_text(c.email, q)), -c.pk)
        )
    results.customers = _merge(exact_customers, by_ref, fuzzy_customers, limit=limit)
    return exact_customers or by_ref


def _search_orders(
    query: _Query, ref_ids: dict[str, list[str]], anchors: list[Customer], results: SearchResults
) -> None:
    """Fill `results.orders` and `results.order_reasons`, each order with its `match` reason."""
    q, limit = query.text, query.limit
    exact_o = list(
        _orders_qs()
        .filter(Q(number=q.upper()) | Q(number=q) | Q(external_ref__iexact=q) | Q(erp_order_number=q))
        .order_by("-created_at", "-id")[:limit]
    )
    by_ref_o = list(
        _orders_qs().filter(pk__in=ref_ids.get("order", [])).order_by("-created_at", "-id")[:limit]
    )
    via_customer: list[Order] = []
    if anchors:
        via_customer = list(
            _orders_qs().filter(customer__in=anchors[:3]).order_by("-created_at", "-id")[:limit]
        )
    fuzzy_o = _fuzzy_orders(query) if query.substring else []
    # Orders of customers found by name come last.
    via_name: list[Order] = []
    if not anchors and results.customers and len(results.orders) < limit:
        via_name = list(
            _orders_qs().filter(customer__in=results.customers[:3]).order_by("-created_at", "-id")[:limit]
        )
    for group, reason in (
        (exact_o, "exact"),
        (by_ref_o, "erp_ref"),
        (via_customer, "customer"),
        (fuzzy_o, "partial"),
        (via_name, "customer"),
    ):
        for order in group:
            results.order_reasons.setdefault(order.pk, reason)
    results.orders = _merge(exact_o, by_ref_o, via_customer, fuzzy_o, via_name, limit=limit)
    for order in results.orders:
        order.match = results.order_reasons.get(order.pk, "")


def _fuzzy_orders(query: _Query) -> list[Order]:
    q = query.text
    fuzzy_o = list(
        _orders_qs()
        .filter(Q(number__icontains=q) | Q(external_ref__icontains=q) | Q(erp_order_number__icontains=q))
        .order_by()[:CANDIDATES]
    )
    fuzzy_o.sort(
        key=lambda o: (
            min(_rank_text(o.number, q), _rank_text(o.external_ref, q), _rank_text(o.erp_order_number, q)),
            -o.pk,
        )
    )
    return fuzzy_o


def _search_jobs(query: _Query) -> list[Job]:
    q = query.text
    jobs_qs = Job.objects.select_related("order", "tour__truck", "plant")
    exact_j = list(jobs_qs.filter(ticket__iexact=q)[: query.limit])
    fuzzy_j = list(jobs_qs.filter(ticket__icontains=q).order_by()[:CANDIDATES]) if query.substring else []
    fuzzy_j.sort(key=lambda j: (_rank_text(j.ticket, q), -j.pk))
    return _merge(exact_j, fuzzy_j, limit=query.limit)


def _search_sites(query: _Query) -> list[Site]:
    q = query.text
    cond = Q(name__icontains=q) | Q(address__icontains=q) | Q(city__icontains=q)
    if query.phone:
        cond |= Q(contact_phone=query.phone)
    sites = list(Site.objects.filter(cond).select_related("customer").order_by()[:CANDIDATES])
    sites.sort(key=lambda s: (min(_rank_text(s.name, q), _rank_text(s.address, q)), -s.pk))
    return sites[: query.limit]
