"""The delivery lifecycle from the console: a rep's call-off on the phone, pausing and pacing the
remaining loads, cancelling or redelivering one load, amending a delivered quantity, and the return
pickup. Each action is one service call (docs/lifecycle.md)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from console import forms, selectors
from console.views.common import (
    act,
    actor,
    form_error_redirect,
    order_action,
    order_url,
    post_only,
    safe_back,
)
from fleet.services import delivery, dispatch
from fleet.services import returns as fleet_returns
from orders.services import lifecycle


def order_call_off(request: HttpRequest, pk: int) -> HttpResponse:
    """A rep calls off loads for a customer on the phone (no quantities: everything left)."""
    post_only(request)
    order = selectors.order_get(pk=pk)
    lines = selectors.order_lines(order=order)
    form = forms.QuantitiesForm(request.POST, positions=[line.position for line in lines])
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(order))
    wanted = form.quantities() or None
    return act(
        request,
        order,
        _("Loads called off."),
        lambda: lifecycle.order_call_off(
            order=order, actor=actor(request), lines=wanted, note=form.cleaned_data["note"], phone="console"
        ),
        order_url(order),
    )


def order_pause(request: HttpRequest, pk: int) -> HttpResponse:
    return order_action(
        request,
        pk,
        forms.PacingForm,
        _("Remaining loads paused."),
        lambda order, form: lifecycle.order_loads_pause(
            order=order, actor=actor(request), reason=form.cleaned_data["reason"]
        ),
    )


def order_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return order_action(
        request,
        pk,
        forms.PacingForm,
        _("Remaining loads resumed."),
        lambda order, form: lifecycle.order_loads_resume(
            order=order, actor=actor(request), spacing_minutes=form.cleaned_data["spacing_minutes"]
        ),
    )


def order_spacing(request: HttpRequest, pk: int) -> HttpResponse:
    return order_action(
        request,
        pk,
        forms.PacingForm,
        _("Spacing between loads saved."),
        lambda order, form: lifecycle.order_load_spacing_set(
            order=order, actor=actor(request), spacing_minutes=form.cleaned_data["spacing_minutes"]
        ),
    )


def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel one load (dispatcher or rep): off its driver's tour, the ERP is told."""
    post_only(request)
    job = selectors.job_get(pk=pk)
    form = forms.ReasonForm(request.POST)
    back = safe_back(request, order_url(job.order) if job.order_id else reverse("admin:console-dispatch"))
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    return act(
        request,
        job.order or job,
        _("Load %(ticket)s cancelled.") % {"ticket": job.ticket},
        lambda: dispatch.job_cancel(job=job, actor=actor(request), reason=form.cleaned_data["reason"]),
        back,
    )


def job_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan a failed load again (a new load with the same lines, linked to the failed one)."""
    post_only(request)
    job = selectors.job_get(pk=pk)
    return act(
        request,
        job.order,
        _("Redelivery of %(ticket)s planned.") % {"ticket": job.ticket},
        lambda: delivery.job_redeliver(job=job, actor=actor(request), planned_at=timezone.now()),
        order_url(job.order),
    )


def job_amend(request: HttpRequest, pk: int) -> HttpResponse:
    """Amend a delivered quantity after its EPOD, with a reason."""
    post_only(request)
    job = selectors.job_get(pk=pk)
    form = forms.AmendForm(request.POST)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(job.order))
    data = form.cleaned_data
    return act(
        request,
        job.order,
        _("Delivered quantity of %(ticket)s amended.") % {"ticket": job.ticket},
        lambda: delivery.delivery_amend(
            job=job,
            position=data["position"],
            delivered=data["delivered"],
            reason=data["reason"],
            actor=actor(request),
        ),
        order_url(job.order),
    )


def return_pickup(request: HttpRequest, pk: int) -> HttpResponse:
    """Schedule the return pickup of an approved return (a job for dispatch)."""
    post_only(request)
    ret = selectors.return_get(pk=pk)
    return act(
        request,
        ret.order,
        _("Return pickup planned (%(number)s).") % {"number": ret.number},
        lambda: fleet_returns.return_pickup_schedule(
            ret=ret, actor=actor(request), planned_at=timezone.now()
        ),
        order_url(ret.order),
    )


def return_pickup_collected(request: HttpRequest, pk: int) -> HttpResponse:
    """Record what a pickup back at the plant actually collected (other than what was asked)."""
    post_only(request)
    job = selectors.job_get(pk=pk)
    positions = selectors.job_line_positions(job=job)
    form = forms.QuantitiesForm(request.POST, positions=positions)
    if not form.is_valid():
        return form_error_redirect(request, form, order_url(job.order))
    return act(
        request,
        job.order,
        _("Collected quantities recorded (%(ticket)s).") % {"ticket": job.ticket},
        lambda: fleet_returns.return_pickup_complete(
            job=job, actor=actor(request), collected=form.quantities()
        ),
        order_url(job.order),
    )
