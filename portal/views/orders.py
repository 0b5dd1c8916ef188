"""My orders: the list, one order's page with its live jobs and EPODs, and placing a new order."""

from __future__ import annotations

import secrets
import time
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from customers.services import SiteData
from fleet import selectors as fleet_selectors
from oms.exceptions import DomainError, IdempotencyInProgress
from oms.lib.files import stored_file_response
from oms.lib.idempotency import run_idempotent
from oms.lib.throttle import throttled_writes
from orders.models import Channel, OrderStatus
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place
from orders.services.returns import RETURNABLE_ORDER
from portal import selectors
from portal.filters import PortalOrderFilter
from portal.forms import CallbackForm, LineFormSet, MessageForm, PlaceOrderForm
from portal.labels import event_label
from portal.services import portal_actor
from portal.views.common import errors, map_context, portal_view
from portal.views.order_actions import cancel_info

CALL_OFF_STATUSES = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.CONFIRMED,
        OrderStatus.SCHEDULED,
        OrderStatus.IN_DELIVERY,
        OrderStatus.PARTIALLY_DELIVERED,
    }
)
# A double-clicked submit: the second request waits this long for the first to finish.
IDEMPOTENCY_WAIT_SECONDS = 10.0


@portal_view
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    customer = request.customer
    filterset = PortalOrderFilter(
        request.GET or None,
        queryset=selectors.order_list(customer=customer),
        customer=customer,
        sites=selectors.site_list(customer=customer),
    )
    queryset = filterset.qs if filterset.is_bound else selectors.order_list(customer=customer)
    page = selectors.keyset_page(queryset, cursor=request.GET.get("after"))
    next_query = None
    if page.next_cursor:
        query = request.GET.copy()
        query["after"] = page.next_cursor
        next_query = query.urlencode()
    first_query = None
    if request.GET.get("after"):
        query = request.GET.copy()
        query.pop("after")
        first_query = query.urlencode()
    return render(
        request,
        "portal/order_list.html",
        {"filter": filterset, "orders": page.items, "next_query": next_query, "first_query": first_query},
    )


@portal_view
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get(customer=request.customer, number=number)
    jobs = list(order.jobs.all())
    returnable = selectors.returnable_quantities(order)
    context = {
        "order": order,
        "jobs": jobs,
        "lines": order.lines.all(),
        "events": [(event, event_label(event.type)) for event in order.events.all()],
        "thread": order.messages.all(),
        "returns": order.returns.all(),
        "cancel": cancel_info(order),
        "can_call_off": order.on_call
        and order.status in CALL_OFF_STATUSES
        and any(line.quantity > line.released for line in order.lines.all()),
        "can_return": order.status in RETURNABLE_ORDER and any(q > 0 for q in returnable.values()),
        "message_form": MessageForm(),
        "callback_form": CallbackForm(initial={"phone": str(request.customer.phone or "")}),
        **map_context(order, jobs, include_site=True),
    }
    return render(request, "portal/order_detail.html", context)


@portal_view
@require_GET
def order_jobs(request: HttpRequest, number: str) -> HttpResponse:
    """The jobs fragment polled by htmx: live status, ETA and the map's markers."""
    order, jobs = selectors.order_jobs(customer=request.customer, number=number)
    context = {"order": order, "jobs": jobs, **map_context(order, jobs, include_site=True)}
    return render(request, "portal/_jobs.html", context)


@portal_view
@require_GET
def epod_file(request: HttpRequest, number: str, ticket: str, kind: str = "pdf") -> HttpResponse:
    """A file of the EPOD of one of the customer's own jobs (another customer's is a 404)."""
    epod = selectors.epod_get(customer=request.customer, number=number, ticket=ticket)
    found = fleet_selectors.epod_file(epod, kind)
    if found is None:
        raise Http404
    return stored_file_response(found.name, filename=found.filename, content_type=found.content_type)


# --- placing an order ----------------------------------------------------------------------------


def _place_payload(form: PlaceOrderForm, lines: LineFormSet) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "site": data["site"],
        "new_site": [
            data.get(f) or ""
            for f in ("new_site_name", "new_site_address", "new_site_city", "new_site_postcode")
        ],
        "requested_date": data["requested_date"].isoformat(),
        "window": [
            t.strftime("%H:%M") if t else None for t in (data.get("window_from"), data.get("window_to"))
        ],
        "on_call": bool(data.get("on_call")),
        "notes": data.get("notes") or "",
        "lines": [
            [line.cleaned_data["product"].sku, f"{line.cleaned_data['quantity']:.3f}"]
            for line in lines.forms
            if line.cleaned_data.get("product")
        ],
    }


def _site_ref(data: dict[str, Any]) -> SiteRef:
    """The chosen site, or the new site typed into the form."""
    if data["site"] == PlaceOrderForm.NEW_SITE:
        return SiteRef(data=SiteData.from_mapping(data, prefix="new_site_"))
    return SiteRef(id=data["site"])


def _place(request: HttpRequest, form: PlaceOrderForm, lines: LineFormSet) -> str:
    """Place the order once per form token; a repeated submit gets the first order's number."""
    data = form.cleaned_data
    site = _site_ref(data)
    order_lines = [
        LineInput(sku=line.cleaned_data["product"].sku, quantity=line.cleaned_data["quantity"])
        for line in lines.forms
        if line.cleaned_data.get("product")
    ]

    def operation() -> tuple[int, dict, str]:
        order = order_place(
            channel=Channel.WEB,
            customer=CustomerRef(customer=request.customer),
            lines=order_lines,
            actor=portal_actor(request.user),
            site=site,
            requested_date=data["requested_date"],
            window_from=data.get("window_from"),
            window_to=data.get("window_to"),
            on_call=bool(data.get("on_call")),
            notes=data.get("notes") or "",
        )
        return 201, {"number": order.number}, order.number

    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        try:
            result = run_idempotent(
                scope=f"user:{request.user.pk}",
                method="POST",
                path=request.path,
                key=data["form_token"],
                payload=_place_payload(form, lines),
                operation=operation,
            )
        except IdempotencyInProgress:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if result.status >= 400:
            # The first submit of this form failed with a business conflict: show that again.
            body = result.body or {}
            raise DomainError(body.get("detail"), errors=body.get("errors"))
        return result.result_ref or result.body["number"]


@portal_view
@throttled_writes("order")
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    customer = request.customer
    sites = list(selectors.site_list(customer=customer))
    products = selectors.product_choices()
    if request.method == "POST":
        form = PlaceOrderForm(request.POST, sites=sites)
        lines = LineFormSet(request.POST, prefix="lines", form_kwargs={"products": products})
        if form.is_valid() and lines.is_valid():
            try:
                number = _place(request, form, lines)
            except DomainError as error:
                form.add_error(None, errors(error))
                # A new token: the corrected form is a new request, not a retry of the failed one.
                data = request.POST.copy()
                data["form_token"] = secrets.token_urlsafe(24)
                form = PlaceOrderForm(data, sites=sites)
                form.is_valid()
                form.add_error(None, errors(error))
            else:
                messages.success(request, _("Order %(number)s placed.") % {"number": number})
                return redirect("portal:order", number=number)
    else:
        form = PlaceOrderForm(
            sites=sites,
            initial={
                "form_token": secrets.token_urlsafe(24),
                "requested_date": timezone.localdate() + timedelta(days=1),
                "site": str(sites[0].public_id) if sites else PlaceOrderForm.NEW_SITE,
            },
        )
        lines = LineFormSet(prefix="lines", form_kwargs={"products": products})
    return render(request, "portal/order_new.html", {"form": form, "lines": lines})


@portal_view
@require_GET
def product_availability(request: HttpRequest) -> HttpResponse:
    """htmx fragment: what is available of the chosen product, per plant."""
    sku = request.GET.get("sku") or next(
        (value for key, value in request.GET.items() if key.endswith("-product")), ""
    )
    product, levels = selectors.product_availability(sku=sku[:40])
    return render(request, "portal/_availability.html", {"product": product, "levels": levels})
