"""Rep and dispatcher console pages inside the admin.

Views parse the form, call one service with `Actor.for_user(request.user)`, write the admin
LogEntry and redirect; domain errors become messages. Permissions are declared per route in
`console.urls` and checked before the view runs.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from datetime import date as Date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from catalog.models import Plant, Product
from console import forms, selectors, services
from customers.models import Customer
from fleet import services as fleet_services
from fleet.models import CallRequest, Job, Message, SenderRole, Tour
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from oms.lib.idempotency import run_idempotent
from orders import selectors as order_selectors
from orders.models import Channel, Order, OrderStatus, ReturnRequest
from orders.services import lifecycle, returns
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place, plant_today
from orders.state import RESUMABLE

# Above this many rows the export runs in a Celery task and the rep gets a link.
EXPORT_SYNC_LIMIT = 5000


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def _ctx(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**admin.site.each_context(request), "title": title, **extra}


def _actor(request: HttpRequest, channel: str = "") -> Actor:
    return Actor.for_user(request.user, channel=channel)


def audit(request: HttpRequest, obj: Any, message: str) -> None:
    """The admin history entry of a console action (LogEntry, action CHANGE)."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[obj],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )


def _error_text(error: DomainError) -> str:
    parts = [str(error.detail)]

    def walk(value: Any, prefix: str = "") -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(sub, f"{prefix}{key}: " if key else prefix)
        elif isinstance(value, list | tuple):
            for sub in value:
                walk(sub, prefix)
        elif value:
            text = f"{prefix}{value}"
            if text not in parts:
                parts.append(text)

    walk(error.errors)
    return " ".join(parts)


def _form_error_text(form) -> str:
    return " ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in form.errors.items())


def _order_url(order: Order) -> str:
    return reverse("admin:console-order", args=[order.pk])


def _act(request: HttpRequest, obj: Any, audit_obj: Any, done: str, call: Callable[[], Any], back: str):
    """Run a service call; success → LogEntry + message, domain error → error message. Redirect back."""
    try:
        call()
    except DomainError as error:
        messages.error(request, _error_text(error))
    else:
        audit(request, audit_obj, done)
        messages.success(request, done)
    return redirect(back)


def _post_only(request: HttpRequest) -> None:
    if request.method != "POST":
        raise Http404


def _safe_back(request: HttpRequest, default: str) -> str:
    back = request.POST.get("next") or ""
    return back if back.startswith("/admin/") and "//" not in back else default


# ---------------------------------------------------------------------------------------------
# home and search
# ---------------------------------------------------------------------------------------------


def console_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/index.html",
        _ctx(request, _("Console"), counts=selectors.queue_counts(), form=forms.SearchForm()),
    )


def search(request: HttpRequest) -> HttpResponse:
    form = forms.SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = selectors.console_search(q=form.cleaned_data["q"])
    return render(
        request, "admin/console/search.html", _ctx(request, _("Search"), form=form, results=results)
    )


# ---------------------------------------------------------------------------------------------
# customers
# ---------------------------------------------------------------------------------------------


def customer_360(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.select_related("merged_into", "default_plant"), pk=pk)
    data = selectors.customer_360(customer=customer)
    return render(
        request,
        "admin/console/customer.html",
        _ctx(
            request,
            str(customer),
            invite_form=forms.PortalInviteForm(initial={"email": customer.email}),
            **data,
        ),
    )


def customer_invite(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    customer = get_object_or_404(Customer, pk=pk)
    form = forms.PortalInviteForm(request.POST)
    back = reverse("admin:console-customer", args=[pk])
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(back)
    email = form.cleaned_data["email"]
    return _act(
        request,
        customer,
        customer,
        _("Portal invite sent to %(email)s.") % {"email": email},
        lambda: services.portal_invite_send(customer=customer, email=email, actor=_actor(request)),
        back,
    )


# ---------------------------------------------------------------------------------------------
# order page and actions
# ---------------------------------------------------------------------------------------------


def _erp_monitor_url(order: Order) -> str:
    try:
        base = reverse("admin:oms_outboxmessage_changelist")
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode({'aggregate_type': 'order', 'aggregate_id': order.number})}"


def order_page(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_object_or_404(selectors.order_for_console(), pk=pk)
    data = selectors.order_page(order=order)
    lines = data["lines"]
    in_truck = [line for line in lines if line.loaded > line.delivered]
    returnable = [line for line in lines if line.delivered > line.returned]
    return render(
        request,
        "admin/console/order.html",
        _ctx(
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


def _order_action(request: HttpRequest, pk: int, form_class, done: str, call: Callable[[Order, Any], Any]):
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(_order_url(order))
    return _act(request, order, order, done, lambda: call(order, form), _order_url(order))


def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(
        request,
        pk,
        forms.ConfirmForm,
        _("Order confirmed."),
        lambda order, form: lifecycle.order_confirm(
            order=order, erp_order_number=form.cleaned_data["erp_order_number"], actor=_actor(request)
        ),
    )


def order_hold(request: HttpRequest, pk: int) -> HttpResponse:
    return _order_action(
        request,
        pk,
        forms.ReasonForm,
        _("Order put on hold."),
        lambda order, form: lifecycle.order_hold(
            order=order, reason=form.cleaned_data["reason"], actor=_actor(request)
        ),
    )


def order_release(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    return _act(
        request,
        order,
        order,
        _("Order released from hold."),
        lambda: lifecycle.order_release(order=order, actor=_actor(request)),
        _order_url(order),
    )


def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel at once before loading started; after that a cancellation request awaits approval."""
    return _order_action(
        request,
        pk,
        forms.ReasonForm,
        _("Cancellation recorded."),
        lambda order, form: lifecycle.order_cancel_request(
            order=order, reason=form.cleaned_data["reason"], actor=_actor(request)
        ),
    )


def _lines_with_truckload(order: Order):
    return [line for line in order.lines.order_by("position") if line.loaded > line.delivered]


def order_cancel_approve(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    form = forms.ReturnedQuantitiesForm(request.POST, lines=_lines_with_truckload(order))
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(_order_url(order))
    back = _safe_back(request, _order_url(order))
    if order.status != OrderStatus.CANCELLATION_REQUESTED:
        messages.error(request, _("There is no cancellation request to approve."))
        return redirect(back)
    return _act(
        request,
        order,
        order,
        _("Cancellation approved."),
        lambda: lifecycle.order_cancel(
            order=order, reason=form.cleaned_data["reason"], returned=form.quantities(), actor=_actor(request)
        ),
        back,
    )


def order_cancel_reject(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    form = forms.ReasonForm(request.POST)
    back = _safe_back(request, _order_url(order))
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(back)
    return _act(
        request,
        order,
        order,
        _("Cancellation request rejected."),
        lambda: lifecycle.order_cancel_reject(
            order=order, reason=form.cleaned_data["reason"], actor=_actor(request)
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
            actor=_actor(request),
        )

    return _order_action(request, pk, forms.CorrectLineForm, _("Line corrected."), call)


def order_return_create(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    lines = [line for line in order.lines.order_by("position") if line.delivered > line.returned]
    form = forms.ReturnedQuantitiesForm(request.POST, lines=lines)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(_order_url(order))
    return _act(
        request,
        order,
        order,
        _("Return requested."),
        lambda: returns.return_request(
            order=order, lines=form.quantities(), reason=form.cleaned_data["reason"], actor=_actor(request)
        ),
        _order_url(order),
    )


def _return_action(request: HttpRequest, pk: int, done: str, call: Callable[[ReturnRequest, str], Any]):
    _post_only(request)
    ret = get_object_or_404(ReturnRequest.objects.select_related("order"), pk=pk)
    form = forms.ReturnDecisionForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    back = _safe_back(request, _order_url(ret.order))
    return _act(request, ret, ret.order, f"{done} ({ret.number})", lambda: call(ret, note), back)


def return_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return approved"),
        lambda ret, note: returns.return_approve(ret=ret, note=note, actor=_actor(request)),
    )


def return_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return rejected"),
        lambda ret, note: returns.return_reject(ret=ret, note=note, actor=_actor(request)),
    )


def return_receive(request: HttpRequest, pk: int) -> HttpResponse:
    return _return_action(
        request,
        pk,
        _("Return received"),
        lambda ret, note: returns.return_receive(ret=ret, actor=_actor(request)),
    )


def order_resend(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    message_id = request.POST.get("message", "")
    return _act(
        request,
        order,
        order,
        _("ERP message queued for resending."),
        lambda: services.order_outbox_resend(order=order, message_id=message_id, actor=_actor(request)),
        _order_url(order),
    )


def order_message(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order.objects.select_related("plant"), pk=pk)
    form = forms.MessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(_order_url(order))
    job = None
    if form.cleaned_data["to"] == forms.MessageForm.TO_DRIVER:
        job = (
            Job.objects.filter(order=order, tour__driver__isnull=False)
            .filter(pk=form.cleaned_data["job"] or 0)
            .first()
            or Job.objects.filter(order=order, tour__driver__isnull=False).order_by("-pk").first()
        )
        if job is None:
            messages.error(request, _("No driver is assigned to this order yet."))
            return redirect(_order_url(order))
    return _act(
        request,
        order,
        order,
        _("Message posted to the driver.") if job else _("Message posted to the customer."),
        lambda: fleet_services.message_post(
            sender_role=SenderRole.REP,
            sender=request.user.get_username(),
            body=form.cleaned_data["body"],
            actor=_actor(request),
            order=order,
            job=job,
            to_driver=job is not None,  # "To: Driver": the driver of the job's tour reads it in the app
        ),
        _order_url(order),
    )


# ---------------------------------------------------------------------------------------------
# phone orders
# ---------------------------------------------------------------------------------------------


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
    customer_id = request.POST.get("customer") or request.GET.get("customer")
    customer = (
        Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
        if customer_id and str(customer_id).isdigit()
        else None
    )
    if customer is None:
        messages.info(request, _("Find the customer first, then choose “New phone order” on their page."))
        return redirect(reverse("admin:console-search"))
    if request.method == "POST":
        form = forms.PhoneOrderForm(request.POST, customer=customer)
        formset = forms.PhoneOrderLineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            payload = _phone_order_payload(form, formset)
            if not payload["lines"]:
                messages.error(request, _("Add at least one line."))
            else:
                try:
                    order = _place_phone_order(request, form.cleaned_data["token"], customer, payload)
                except DomainError as error:
                    messages.error(request, _error_text(error))
                    # The failed attempt keeps its token; a corrected submission is a new request.
                    data = request.POST.copy()
                    data["token"] = uuid.uuid4().hex
                    form = forms.PhoneOrderForm(data, customer=customer)
                    form.is_valid()
                else:
                    return redirect(_order_url(order))
    else:
        form = forms.PhoneOrderForm(
            customer=customer,
            initial={"customer": customer.pk, "requested_date": timezone.localdate()},
        )
        formset = forms.PhoneOrderLineFormSet(prefix="lines")
    return render(
        request,
        "admin/console/phone_order.html",
        _ctx(
            request,
            _("New phone order for %(customer)s") % {"customer": customer},
            customer=customer,
            form=form,
            formset=formset,
        ),
    )


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
            actor=_actor(request, Channel.PHONE),
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
    order = Order.objects.get(number=result.result_ref or result.body["number"])
    if result.replayed:
        messages.info(request, _("This order was already placed; showing it."))
    else:
        messages.success(request, _("Order %(number)s placed.") % {"number": order.number})
    return order


def _time(value: str | None):
    from datetime import time

    return time.fromisoformat(value) if value else None


def availability(request: HttpRequest) -> HttpResponse:
    """htmx fragment: availability per plant of the product chosen in a phone-order line."""
    sku = request.GET.get("sku") or next(
        (v for k, v in request.GET.items() if k.startswith("lines-") and k.endswith("-sku")), ""
    )
    product = Product.objects.filter(sku=sku, active=True).first() if sku else None
    rows = order_selectors.product_availability(product=product) if product else []
    return render(request, "admin/console/_availability.html", {"product": product, "rows": rows})


# ---------------------------------------------------------------------------------------------
# queues
# ---------------------------------------------------------------------------------------------


def queue_callbacks(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_callbacks.html",
        _ctx(
            request,
            _("Call-back requests"),
            calls=selectors.callback_queue(),
            outcome_form=forms.OutcomeForm(),
        ),
    )


def _call_action(
    request: HttpRequest, pk: int, done: str, call: Callable[[CallRequest], Any]
) -> HttpResponse:
    _post_only(request)
    call_request = get_object_or_404(CallRequest.objects.select_related("order"), pk=pk)
    back = _safe_back(request, reverse("admin:console-queue-callbacks"))
    return _act(request, call_request, call_request, done, lambda: call(call_request), back)


def callback_assign(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_action(
        request,
        pk,
        _("Call-back assigned to you."),
        lambda c: services.call_request_assign(call=c, user=request.user, actor=_actor(request)),
    )


def callback_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_action(
        request,
        pk,
        _("Call-back started."),
        lambda c: services.call_request_start(call=c, actor=_actor(request)),
    )


def callback_done(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = request.POST.get("outcome", "")
    return _call_action(
        request,
        pk,
        _("Call-back done."),
        lambda c: services.call_request_done(call=c, outcome=outcome, actor=_actor(request)),
    )


def queue_approvals(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_approvals.html",
        _ctx(
            request,
            _("Requests awaiting approval"),
            reason_form=forms.ReasonForm(),
            **selectors.approval_queue(),
        ),
    )


def queue_messages(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/queue_messages.html",
        _ctx(
            request,
            _("Messages awaiting reply"),
            inbound=selectors.messages_awaiting_reply(),
            reply_form=forms.ReplyForm(),
        ),
    )


def message_reply(request: HttpRequest, pk: int) -> HttpResponse:
    """Reply in the message's thread (optional) and mark it handled."""
    _post_only(request)
    message = get_object_or_404(Message.objects.select_related("order", "job", "tour", "driver"), pk=pk)
    form = forms.ReplyForm(request.POST)
    back = _safe_back(request, reverse("admin:console-queue-messages"))
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(back)
    body = form.cleaned_data["body"].strip()
    role = SenderRole.DISPATCHER if not request.user.has_perm("orders.change_order") else SenderRole.REP
    # A reply goes to whoever wrote: a driver's message is answered in that driver's inbox.
    to_driver = message.sender_role == SenderRole.DRIVER and message.driver_id is not None

    def call():
        with transaction.atomic():
            if body:
                fleet_services.message_post(
                    sender_role=role,
                    sender=request.user.get_username(),
                    body=body,
                    actor=_actor(request),
                    order=message.order,
                    tour=message.tour,
                    job=message.job,
                    to_driver=to_driver,
                    driver=message.driver if to_driver else None,
                )
            services.message_mark_read(message=message)

    done = _("Reply sent.") if body else _("Message marked as handled.")
    return _act(request, message, message.order or message, done, call, back)


# ---------------------------------------------------------------------------------------------
# dispatch board
# ---------------------------------------------------------------------------------------------


def _board_params(request: HttpRequest) -> tuple[Date, Plant | None]:
    form = forms.BoardFilterForm(request.GET or None)
    day, plant = None, None
    if form.is_valid():
        day, plant = form.cleaned_data["date"], form.cleaned_data["plant"]
    if day is None:
        first = Plant.objects.filter(active=True).first()
        day = plant_today(plant or first) if (plant or first) else timezone.localdate()
    return day, plant


def dispatch_board(request: HttpRequest) -> HttpResponse:
    day, plant = _board_params(request)
    board = selectors.dispatch_board(date=day, plant_id=plant.pk if plant else None)
    query = urlencode({"date": day.isoformat(), **({"plant": plant.pk} if plant else {})})
    return render(
        request,
        "admin/console/dispatch.html",
        _ctx(
            request,
            _("Dispatch board"),
            filter_form=forms.BoardFilterForm(initial={"date": day, "plant": plant}),
            plan_form=forms.PlanTourForm(initial={"date": day}),
            trucks_url=f"{reverse('admin:console-dispatch-trucks')}?{urlencode({'plant': plant.pk} if plant else {})}",
            board_query=query,
            tile_url=settings.MAP_TILE_URL,
            selected_plant=plant,
            **board,
        ),
    )


def dispatch_trucks(request: HttpRequest) -> HttpResponse:
    plant_id = request.GET.get("plant")
    points = selectors.truck_positions(plant_id=int(plant_id) if plant_id and plant_id.isdigit() else None)
    return JsonResponse({"trucks": points})


def _board_back(request: HttpRequest) -> str:
    return _safe_back(request, reverse("admin:console-dispatch"))


def job_assign(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    job = get_object_or_404(Job.objects.select_related("order"), pk=pk)
    form = forms.AssignJobForm(request.POST)
    back = _board_back(request)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(back)
    tour = Tour.objects.filter(pk=form.cleaned_data["tour"]).select_related("truck").first()
    if tour is None:
        messages.error(request, _("Choose a tour."))
        return redirect(back)
    return _act(
        request,
        job,
        job,
        _("Job %(ticket)s assigned to %(truck)s.") % {"ticket": job.ticket, "truck": tour.truck.code},
        lambda: fleet_services.job_assign(job=job, tour=tour, actor=_actor(request)),
        back,
    )


def tour_plan(request: HttpRequest) -> HttpResponse:
    _post_only(request)
    form = forms.PlanTourForm(request.POST)
    back = _board_back(request)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(back)
    d = form.cleaned_data
    holder: dict[str, Tour] = {}

    def call():
        holder["tour"] = fleet_services.tour_plan(
            plant=d["truck"].plant,
            truck=d["truck"],
            driver=d["driver"],
            date=d["date"],
            actor=_actor(request),
        )
        audit(request, holder["tour"], _("Tour planned from the dispatch board."))

    try:
        call()
    except DomainError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, _("Tour %(number)s planned.") % {"number": holder["tour"].number})
    return redirect(back)


def order_split(request: HttpRequest, pk: int) -> HttpResponse:
    _post_only(request)
    order = get_object_or_404(Order, pk=pk)
    return _act(
        request,
        order,
        order,
        _("Jobs created."),
        lambda: fleet_services.order_split_into_jobs(order=order, actor=_actor(request)),
        _board_back(request),
    )


# ---------------------------------------------------------------------------------------------
# exports
# ---------------------------------------------------------------------------------------------


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_orders(request: HttpRequest) -> HttpResponse:
    """CSV of the filtered order list: streamed when small, else written by a Celery task."""
    form = forms.ExportForm.from_query(request.GET)
    if not form.is_valid():
        messages.error(request, _form_error_text(form))
        return redirect(reverse("admin:orders_order_changelist"))
    filters = form.filters()
    qs = selectors.order_export_queryset(filters)
    count = qs[: EXPORT_SYNC_LIMIT + 1].count()
    audit_obj = request.user
    if count > EXPORT_SYNC_LIMIT:
        from console.tasks import console_export_orders

        name = services.export_new_name()
        user_id = request.user.pk
        transaction.on_commit(lambda: console_export_orders.delay(user_id, name, filters))
        audit(request, audit_obj, f"Order export {name} queued: {json.dumps(filters, sort_keys=True)}")
        messages.info(
            request, _("The export is large; it is being prepared. It will appear in the list below.")
        )
        return redirect(reverse("admin:console-exports"))
    audit(
        request, audit_obj, f"Order export downloaded ({count} rows): {json.dumps(filters, sort_keys=True)}"
    )
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(services.EXPORT_HEADER)
        for row in services.export_rows(qs.iterator(chunk_size=1000)):
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{services.export_new_name()}"'
    return response


def exports(request: HttpRequest) -> HttpResponse:
    folder = services.export_dir(request.user.pk)
    files = []
    if folder.exists():
        for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True):
            files.append(
                {
                    "name": path.name.removesuffix(".part"),
                    "ready": path.suffix == ".csv",
                    "size": path.stat().st_size,
                    "at": datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
                }
            )
    return render(request, "admin/console/exports.html", _ctx(request, _("Exports"), files=files))


def export_download(request: HttpRequest, name: str) -> HttpResponse:
    if "/" in name or "\\" in name or not name.endswith(".csv") or name.startswith("."):
        raise Http404
    path = services.export_dir(request.user.pk) / name
    if not path.is_file():
        raise Http404
    return FileResponse(open(path, "rb"), as_attachment=True, filename=name, content_type="text/csv")  # noqa: SIM115
