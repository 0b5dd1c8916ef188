"""What a customer does on one order: messages, call-backs, call-offs, cancellation and returns."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from oms.exceptions import DomainError
from oms.lib.throttle import throttled_writes
from orders.models import Order, OrderStatus
from orders.services.lifecycle import (
    CANCEL_AT_ONCE_FROM,
    order_call_off,
    order_cancel_request,
    order_load_spacing_set,
    order_loads_pause,
    order_loads_resume,
)
from orders.services.returns import return_request
from orders.state import RESUMABLE
from portal import selectors
from portal.forms import CallbackForm, CallOffForm, MessageForm, PacingForm, ReasonForm, ReturnForm
from portal.services import order_callback_request, order_message_post, portal_actor
from portal.views.common import errors, is_htmx, portal_view


def cancel_info(order: Order) -> dict[str, str]:
    """Whether a cancellation would be immediate or need approval, and why (mirrors order_cancel_request)."""
    if order.status == OrderStatus.CANCELLED:
        return {"kind": "done", "why": _("The order is cancelled.")}
    if order.status == OrderStatus.CANCELLATION_REQUESTED:
        return {"kind": "pending", "why": _("Your cancellation request is waiting for a decision.")}
    if order.status in CANCEL_AT_ONCE_FROM and order.loading_started_at is None:
        return {
            "kind": "immediate",
            "why": _("No load has been batched yet, so the order is cancelled at once."),
        }
    if order.status in CANCEL_AT_ONCE_FROM or order.status in RESUMABLE:
        return {
            "kind": "approval",
            "why": _(
                "Loading has already started, so a service representative must approve the cancellation "
                "and record what comes back."
            ),
        }
    return {
        "kind": "impossible",
        "why": _("A %(status)s order cannot be cancelled.") % {"status": order.get_status_display()},
    }


@portal_view
@throttled_writes("message", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_messages(request: HttpRequest, number: str) -> HttpResponse:
    """The order's message thread (fragment); POST adds the customer's message."""
    order = selectors.order_get_plain(customer=request.customer, number=number)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_message_post(order=order, body=form.cleaned_data["body"], actor=portal_actor(request.user))
        except DomainError as error:
            form.add_error("body", errors(error))
        else:
            if not is_htmx(request):
                messages.success(request, _("Message sent."))
                return redirect(reverse("portal:order", args=[order.number]) + "#messages")
            form = MessageForm()
    context = {"order": order, "thread": selectors.order_messages(order=order), "message_form": form}
    return render(request, "portal/_messages.html", context)


@portal_view
@throttled_writes("callback", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_callback(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get_plain(customer=request.customer, number=number)
    form = CallbackForm(request.POST or None, initial={"phone": str(request.customer.phone or "")})
    if request.method == "POST" and form.is_valid():
        try:
            call = order_callback_request(
                order=order,
                reason=form.cleaned_data["reason"],
                phone=form.cleaned_data["phone"],
                actor=portal_actor(request.user),
            )
        except DomainError as error:
            form.add_error(None, errors(error))
        else:
            due = timezone.localtime(call.due_at)
            messages.success(request, _("We will call you back by %(time)s.") % {"time": f"{due:%H:%M}"})
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "callback"})


@portal_view
@throttled_writes("call_off", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_call_off_view(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get_plain(customer=request.customer, number=number)
    if not order.on_call:
        raise Http404
    form = CallOffForm(
        request.POST or None,
        lines=list(order.lines.all()),
        maximum=lambda line: line.quantity - line.released,
        initial_max=True,
    )
    if request.method == "POST" and form.is_valid():
        try:
            order_call_off(
                order=order,
                actor=portal_actor(request.user),
                lines=form.quantities(),
                wanted_at=form.cleaned_data.get("wanted_at"),
                note=form.cleaned_data.get("note") or "",
                phone=str(request.customer.phone or ""),
            )
        except DomainError as error:
            form.add_error(None, errors(error))
        else:
            messages.success(request, _("Call-off sent. Dispatch will schedule the load."))
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "call_off"})


@portal_view
@throttled_writes("cancel", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_cancel_view(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get_plain(customer=request.customer, number=number)
    info = cancel_info(order)
    form = ReasonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = order_cancel_request(
                order=order, reason=form.cleaned_data["reason"], actor=portal_actor(request.user)
            )
        except DomainError as error:
            form.add_error(None, errors(error))
        else:
            if order.status == OrderStatus.CANCELLED:
                messages.success(request, _("Your order is cancelled."))
            else:
                messages.info(
                    request, _("Your cancellation request was sent. A service representative will decide.")
                )
            return redirect("portal:order", number=order.number)
    return render(
        request,
        "portal/order_action.html",
        {"order": order, "form": form, "action": "cancel", "cancel": info},
    )


@portal_view
@throttled_writes("return", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_return_view(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get(customer=request.customer, number=number)
    returnable = selectors.returnable_quantities(order)
    form = ReturnForm(
        request.POST or None, lines=list(order.lines.all()), maximum=lambda line: returnable[line.pk]
    )
    if request.method == "POST" and form.is_valid():
        try:
            ret = return_request(
                order=order,
                lines=form.quantities(),
                reason=form.cleaned_data["reason"],
                actor=portal_actor(request.user),
            )
        except DomainError as error:
            form.add_error(None, errors(error))
        else:
            messages.success(request, _("Return %(number)s requested.") % {"number": ret.number})
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "return"})


@portal_view
@throttled_writes("pacing", order_kwarg="number")
@require_http_methods(["GET", "POST"])
def order_pacing_view(request: HttpRequest, number: str) -> HttpResponse:
    """Pause or resume the loads not yet planned, or set the minutes between loads."""
    order = selectors.order_get_plain(customer=request.customer, number=number)
    if order.fulfilment != "delivery":
        raise Http404
    form = PacingForm(request.POST or None, initial={"spacing_minutes": order.load_spacing_minutes})
    if request.method == "POST" and form.is_valid():
        data, who = form.cleaned_data, portal_actor(request.user)
        try:
            if data["action"] == "pause":
                order_loads_pause(order=order, actor=who, reason=data["reason"])
            elif data["action"] == "resume":
                order_loads_resume(order=order, actor=who, spacing_minutes=data["spacing_minutes"])
            else:
                order_load_spacing_set(order=order, actor=who, spacing_minutes=data["spacing_minutes"])
        except DomainError as error:
            form.add_error(None, errors(error))
        else:
            messages.success(request, _("Your delivery pace is saved."))
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_pacing.html", {"order": order, "form": form})
