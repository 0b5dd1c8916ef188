"""The console's order page: lines, timeline with ERP sync state, jobs, returns, messages and map."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from console import forms, selectors
from console.views.common import page_context
from fleet import selectors as fleet_selectors
from oms.lib.files import stored_file_response
from orders.models import Order, OrderStatus
from orders.services import lifecycle, returns
from orders.state import RESUMABLE


def _erp_monitor_url(order: Order) -> str:
    try:
        base = reverse("admin:oms_outboxmessage_changelist")
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode({'aggregate_type': 'order', 'aggregate_id': order.number})}"


def order_page(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_for_page(pk=pk)
    data = selectors.order_page(order=order)
    in_truck = selectors.lines_in_truck(data["lines"])
    returnable = selectors.lines_returnable(data["lines"])
    return render(
        request,
        "admin/console/order.html",
        page_context(
            request,
            _("Order %(number)s") % {"number": order.number},
            erp_monitor_url=_erp_monitor_url(order),
            reason_form=forms.ReasonForm(),
            confirm_form=forms.ConfirmForm(initial={"erp_order_number": order.erp_order_number}),
            approve_form=forms.ReturnedQuantitiesForm(lines=in_truck),
            return_form=forms.ReturnedQuantitiesForm(lines=returnable, quantity_label=_("Return")),
            message_form=forms.MessageForm(),
            is_cancellation_requested=order.status == OrderStatus.CANCELLATION_REQUESTED,
            is_on_hold=order.status == OrderStatus.ON_HOLD,
            can_correct=order.status in lifecycle.CORRECTABLE,
            can_cancel=order.status in lifecycle.CANCEL_AT_ONCE_FROM | RESUMABLE,
            map_points_json=json.dumps(data["map_points"]),
            tile_url=settings.MAP_TILE_URL,
            can_return=order.status in returns.RETURNABLE_ORDER and bool(returnable),
            driver_jobs=[j for j in data["jobs"] if j.tour_id and j.tour.driver_id],
            **data,
        ),
    )


def epod_file(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """A file of the EPOD of job `pk` (PDF, signature, photos), for staff who may view orders."""
    found = fleet_selectors.epod_file(selectors.epod_of_job(pk=pk), kind)
    if found is None:
        raise Http404
    return stored_file_response(found.name, filename=found.filename, content_type=found.content_type)
