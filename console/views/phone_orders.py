"""Phone orders: the rep places an order for a customer, with product availability per plant."""

from __future__ import annotations

import uuid
from datetime import date as Date
from datetime import time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from console import forms, selectors
from console.views.common import actor, audit, error_text, order_url, page_context
from customers.models import Customer
from oms.exceptions import DomainError
from oms.lib.idempotency import run_idempotent
from orders import selectors as order_selectors
from orders.models import Channel, Order
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place


def _phone_order_payload(form, formset) -> dict[str, Any]:
    d = form.cleaned_data
    return {
        "customer": d["customer"].pk,
        "fulfilment": d["fulfilment"],
        "site": d.get("site") or None,
        "requested_date": d["requested_date"].isoformat(),
        "window_from": d["window_from"].isoformat() if d.get("window_from") else None,
        "window_to": d["window_to"].isoformat() if d.get("window_to") else None,
        "on_call": d["on_call"],
        "notes": d["notes"],
        "lines": [
            {"sku": f.cleaned_data["sku"], "quantity": str(f.cleaned_data["quantity"])}
            for f in formset.forms
            if f.cleaned_data.get("sku")
        ],
    }


def phone_order(request: HttpRequest) -> HttpResponse:
    customer = selectors.phone_order_customer(request.POST.get("customer") or request.GET.get("customer"))
    if customer is None:
        messages.info(request, _("Find the customer first, then choose “New phone order” on their page."))
        return redirect(reverse("admin:console-search"))
    if request.method == "POST":
        form = forms.PhoneOrderForm(request.POST, customer=customer)
        formset = forms.PhoneOrderLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            order, form = _submit(request, customer, form, formset)
            if order is not None:
                return redirect(order_url(order))
    else:
        form = forms.PhoneOrderForm(
            customer=customer,
            # Today where the customers are: UTC's date is yesterday there late in the evening.
            initial={
                "customer": customer.pk,
                "requested_date": timezone.localdate(timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE)),
            },
        )
        formset = forms.PhoneOrderLineFormSet(prefix="lines")
    return render(
        request,
        "admin/console/phone_order.html",
        page_context(
            request,
            _("New phone order for %(customer)s") % {"customer": customer},
            customer=customer,
            form=form,
            formset=formset,
        ),
    )


def _submit(request: HttpRequest, customer: Customer, form, formset) -> tuple[Order | None, Any]:
    """Place the valid form's order: (order, form), or (None, the form to show again) with a message."""
    payload = _phone_order_payload(form, formset)
    if not payload["lines"]:
        messages.error(request, _("Add at least one line."))
        return None, form
    try:
        order = _place_phone_order(request, form.cleaned_data["token"], customer, payload)
    except DomainError as error:
        messages.error(request, error_text(error))
        # The failed attempt keeps its token; a corrected submission is a new request.
        data = request.POST.copy()
        data["token"] = uuid.uuid4().hex
        form = forms.PhoneOrderForm(data, customer=customer)
        form.is_valid()
        return None, form
    return order, form


def _place_phone_order(
    request: HttpRequest, token: str, customer: Customer, payload: dict[str, Any]
) -> Order:
    """order_place once per form token: a double submit returns the order of the first."""

    def operation():
        order = order_place(
            channel=Channel.PHONE,
            customer=CustomerRef(customer=customer),
            lines=[
                LineInput(sku=line["sku"], quantity=Decimal(line["quantity"])) for line in payload["lines"]
            ],
            actor=actor(request, Channel.PHONE),
            fulfilment=payload["fulfilment"],
            site=SiteRef(id=payload["site"]) if payload["site"] else None,
            requested_date=Date.fromisoformat(payload["requested_date"]),
            window_from=_time(payload["window_from"]),
            window_to=_time(payload["window_to"]),
            on_call=payload["on_call"],
            notes=payload["notes"],
        )
        audit(request, order, _("Phone order placed for %(customer)s.") % {"customer": customer.number})
        return 201, {"id": order.pk, "number": order.number}, order.number

    result = run_idempotent(
        scope=f"user:{request.user.pk}",
        method="POST",
        path=reverse("admin:console-phone-order"),
        key=token,
        payload=payload,
        operation=operation,
    )
    if result.replayed and result.status != 201:
        raise DomainError(str((result.body or {}).get("detail", "")))
    order = selectors.order_by_number(number=result.result_ref or result.body["number"])
    if result.replayed:
        messages.info(request, _("This order was already placed; showing it."))
    else:
        messages.success(request, _("Order %(number)s placed.") % {"number": order.number})
    return order


def _time(value: str | None) -> time | None:
    return time.fromisoformat(value) if value else None


def availability(request: HttpRequest) -> HttpResponse:
    """htmx fragment: availability per plant of the product chosen in a phone-order line."""
    sku = request.GET.get("sku") or next(
        (v for k, v in request.GET.items() if k.startswith("lines-") and k.endswith("-sku")), ""
    )
    product = order_selectors.active_product(sku=sku) if sku else None
    rows = order_selectors.product_availability(product=product) if product else []
    return render(request, "admin/console/_availability.html", {"product": product, "rows": rows})
