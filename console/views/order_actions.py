"""Actions on one order from its console page: confirm, hold, cancel, correct, returns, resend, message."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _

from console import forms, selectors, services
from console.views.common import (
    act,
    actor,
    form_error_redirect,
    order_action,
    order_url,
    post_only,
    safe_back,
)
from fleet import services as fleet_services
from fleet.models import SenderRole
from orders.models import Order, OrderStatus, ReturnRequest
from orders.services import lifecycle, returns


def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return order_action(
        request,
        pk,
        forms.ConfirmForm,
        _("Order confirmed."),
        lambda order, form: lifecycle.order_confirm(
            order=order, erp_order_number=form.cleaned_data["erp_order_number"], actor=actor(request)
        ),
    )


def order_hold(request: HttpRequest, pk: int) -> HttpResponse:
    return order_action(
        request,
        pk,
        forms.ReasonForm,
        _("Order put on hold."),
        lambda order, form: lifecycle.order_hold(
            order=order, reason=form.cleaned_data["reason"], actor=actor(request)
        ),
    )


def order_release(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    return act(
        request,
        order,
        _("Order released from hold."),
        lambda: lifecycle.order_release(order=order, actor=actor(request)),
        order_url(order),
    )


def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel at once before loading started; after that a cancellation request awaits approval."""
    return order_action(
        request,
        pk,
        forms.ReasonForm,
        _("Cancellation recorded."),
        lambda order, form: lifecycle.order_cancel_request(
            order=order, reason=form.cleaned_data["reason"], actor=actor(request)
        ),
    )


def order_cancel_approve(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    lines = selectors.lines_in_truck(selectors.order_lines(order=order))
    form = forms.ReturnedQuantitiesForm(request.POST, lines=lines)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(order))
    back = safe_back(request, order_url(order))
    if order.status != OrderStatus.CANCELLATION_REQUESTED:
        messages.error(request, _("There is no cancellation request to approve."))
        return redirect(back)
    return act(
        request,
        order,
        _("Cancellation approved."),
        lambda: lifecycle.order_cancel(
            order=order, reason=form.cleaned_data["reason"], returned=form.quantities(), actor=actor(request)
        ),
        back,
    )


def order_cancel_reject(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    form = forms.ReasonForm(request.POST)
    back = safe_back(request, order_url(order))
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    return act(
        request,
        order,
        _("Cancellation request rejected."),
        lambda: lifecycle.order_cancel_reject(
            order=order, reason=form.cleaned_data["reason"], actor=actor(request)
        ),
        back,
    )


def order_correct(request: HttpRequest, pk: int) -> HttpResponse:
    def call(order: Order, form) -> Any:
        d = form.cleaned_data
        new = d["new"].quantize(Decimal("0.01")) if d["field"] == "unit_price" else d["new"]
        return lifecycle.order_correct(
            order=order,
            corrections=[
                lifecycle.Correction(position=d["position"], field=d["field"], new=new, reason=d["reason"])
            ],
            actor=actor(request),
        )

    return order_action(request, pk, forms.CorrectLineForm, _("Line corrected."), call)


def order_return_create(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    lines = selectors.lines_returnable(selectors.order_lines(order=order))
    form = forms.ReturnedQuantitiesForm(request.POST, lines=lines)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(order))
    return act(
        request,
        order,
        _("Return requested."),
        lambda: returns.return_request(
            order=order, lines=form.quantities(), reason=form.cleaned_data["reason"], actor=actor(request)
        ),
        order_url(order),
    )


def _return_action(request: HttpRequest, pk: int, done: str, call: Callable[[ReturnRequest, str], Any]):
    post_only(request)
    ret = selectors.return_get(pk=pk)
    form = forms.ReturnDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    back = safe_back(request, order_url(ret.order))
    return act(request, ret.order, f"{done} ({ret.number})", lambda: call(ret, note), back)


def return_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return approved"),
        lambda ret, note: returns.return_approve(ret=ret, note=note, actor=actor(request)),
    )


def return_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return rejected"),
        lambda ret, note: returns.return_reject(ret=ret, note=note, actor=actor(request)),
    )


def return_receive(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return received"),
        lambda ret, note: returns.return_receive(ret=ret, actor=actor(request)),
    )


def order_resend(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    message_id = request.POST.get("message", "")
    return act(
        request,
        order,
        _("ERP message queued for resending."),
        lambda: services.order_outbox_resend(order=order, message_id=message_id, actor=actor(request)),
        order_url(order),
    )


def order_message(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_with_plant(pk=pk)
    form = forms.MessageForm(request.POST)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(order))
    job = None
    if form.cleaned_data["to"] == forms.MessageForm.TO_DRIVER:
        job = selectors.driver_job_for_message(order=order, job_id=form.cleaned_data["job"])
        if job is None:
            messages.error(request, _("No driver is assigned to this order yet."))
            return redirect(order_url(order))
    return act(
        request,
        order,
        _("Message posted to the driver.") if job else _("Message posted to the customer."),
        lambda: fleet_services.message_post(
            sender_role=SenderRole.REP,
            sender=request.user.get_username(),
            body=form.cleaned_data["body"],
            actor=actor(request),
            order=order,
            job=job,
            to_driver=job is not None,  # "To: Driver": the driver of the job's tour reads it in the app
        ),
        order_url(order),
    )
