"""Portal pages. Each view parses input, calls a selector or a service and renders (STYLE principle 1).

Every page but sign-in/sign-up/reset and the public tracking page needs a signed-in user acting for
a customer; every object is looked up through that customer, so anything else is a 404.
"""

from __future__ import annotations

import functools
import json
import secrets
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.mail import send_mail
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from customers.models import Customer
from customers.services import SiteData, customer_match, site_create, site_update
from oms.exceptions import DomainError, IdempotencyInProgress
from oms.lib.idempotency import run_idempotent
from orders.models import Channel, Order, OrderStatus, ReturnStatus
from orders.services.lifecycle import CANCEL_AT_ONCE_FROM, order_call_off, order_cancel_request
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place
from orders.services.returns import RETURNABLE_ORDER, return_request
from orders.state import RESUMABLE
from portal import ratelimit, selectors
from portal.filters import PortalOrderFilter
from portal.forms import (
    TOO_MANY_REQUESTS,
    CallbackForm,
    CallOffForm,
    InviteForm,
    LineFormSet,
    MessageForm,
    PlaceOrderForm,
    PortalLoginForm,
    PortalPasswordResetForm,
    ReasonForm,
    ReturnForm,
    SignupCompleteForm,
    SignupRequestForm,
    SiteForm,
)
from portal.labels import event_label
from portal.services import order_callback_request, order_message_post, portal_actor, portal_user_create

SIGNUP_SALT = "customers.portal.signup"
CALL_OFF_STATUSES = frozenset(
    {
        OrderStatus.PLACED,
        OrderStatus.CONFIRMED,
        OrderStatus.SCHEDULED,
        OrderStatus.IN_DELIVERY,
        OrderStatus.PARTIALLY_DELIVERED,
    }
)
OPEN_RETURN_STATUSES = frozenset(
    {ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED}
)
# A double-clicked submit: the second request waits this long for the first to finish.
IDEMPOTENCY_WAIT_SECONDS = 10.0


def _display_tz(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        timezone.activate(settings.OMS_DISPLAY_TIME_ZONE)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def portal_view(view):
    """Signed in, acting for one customer (`request.customer`); times shown in the display zone."""

    @login_required
    @_display_tz
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        customers = list(selectors.customers_for_user(user=request.user))
        if not customers:
            return render(request, "portal/no_access.html", status=403)
        wanted = request.session.get("portal_customer")
        request.customer = next((c for c in customers if c.pk == wanted), customers[0])
        request.portal_customers = customers
        return view(request, *args, **kwargs)

    return wrapper


def _errors(error: DomainError) -> list[str]:
    """The messages of a domain error, flattened (field errors may nest per line)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)

    walk(error.errors)
    messages_ = [str(error.detail)] + [m for m in found if m != error.detail]
    return [_(m) for m in messages_]


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- accounts ----------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # The customer's language, unless this browser already chose one with the switcher.
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES:
            customer = selectors.customers_for_user(user=form.get_user()).first()
            if customer is not None and customer.language:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME, customer.language, samesite="Lax", httponly=False
                )
        return response


class LogoutView(auth_views.LogoutView):
    next_page = reverse_lazy("portal:login")


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    form_class = PortalPasswordResetForm
    success_url = reverse_lazy("portal:password_reset_done")

    def form_valid(self, form):
        if not ratelimit.email_request_allowed(
            scope="reset", email=form.cleaned_data["email"], ip=ratelimit.client_ip(self.request)
        ):
            form.add_error(None, TOO_MANY_REQUESTS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


def _send_signup_link(request: HttpRequest, *, email: str, customer: Customer, invited_by: str = "") -> None:
    token = signing.dumps({"e": email, "c": str(customer.public_id)}, salt=SIGNUP_SALT, compress=True)
    link = request.build_absolute_uri(reverse("portal:signup-complete", args=[token]))
    body = render_to_string(
        "registration/signup_email.txt",
        {
            "link": link,
            "customer": customer,
            "invited_by": invited_by,
            "days": settings.OMS_PORTAL_SIGNUP_MAX_AGE // 86400,
        },
    )
    send_mail(_("Your customer portal account"), body, None, [email])


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-up link: sent only when the address belongs to a customer (the answer is the same)."""
    form = SignupRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        if not ratelimit.email_request_allowed(scope="signup", email=email, ip=ratelimit.client_ip(request)):
            form.add_error(None, TOO_MANY_REQUESTS)
            return render(request, "registration/signup.html", {"form": form}, status=429)
        customer = customer_match(email=email)
        from django.contrib.auth import get_user_model

        if customer is not None and not get_user_model().objects.filter(username__iexact=email).exists():
            _send_signup_link(request, email=email, customer=customer)
        return render(request, "registration/signup_sent.html", {"email": email})
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_complete(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = signing.loads(token, salt=SIGNUP_SALT, max_age=settings.OMS_PORTAL_SIGNUP_MAX_AGE)
        customer = Customer.objects.get(public_id=data["c"], merged_into__isnull=True, active=True)
        email = data["e"]
    except (signing.BadSignature, KeyError, TypeError, ValueError, Customer.DoesNotExist):
        return render(request, "registration/signup_invalid.html", status=400)
    from django.contrib.auth import get_user_model

    if get_user_model().objects.filter(username__iexact=email).exists():
        return render(request, "registration/signup_invalid.html", {"used": True}, status=400)
    form = SignupCompleteForm(request.POST or None, email=email)
    if request.method == "POST" and form.is_valid():
        try:
            user = portal_user_create(
                customer=customer,
                email=email,
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
            )
        except DomainError:
            return render(request, "registration/signup_invalid.html", {"used": True}, status=400)
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, _("Welcome! Your account is ready."))
        return redirect("portal:orders")
    return render(
        request, "registration/signup_complete.html", {"form": form, "email": email, "customer": customer}
    )


@portal_view
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    """The customer's portal users; invite a colleague (company customers have several users)."""
    customer = request.customer
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"].strip().lower()
        if not ratelimit.email_request_allowed(scope="invite", email=email, ip=ratelimit.client_ip(request)):
            form.add_error(None, TOO_MANY_REQUESTS)
        else:
            _send_signup_link(request, email=email, customer=customer, invited_by=request.user.get_username())
            messages.success(request, _("We sent a sign-up link to %(email)s.") % {"email": email})
            return redirect("portal:account")
    users = customer.users.order_by("username").only("username", "first_name", "last_login")
    return render(request, "portal/account.html", {"form": form, "users": users})


@portal_view
@require_POST
def switch_customer(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("customer", "")
    chosen = next((c for c in request.portal_customers if str(c.public_id) == wanted), None)
    if chosen is None:
        raise Http404
    request.session["portal_customer"] = chosen.pk
    return redirect("portal:orders")


# --- orders ------------------------------------------------------------------------------------


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


def _returnable(order: Order) -> dict[int, Any]:
    pending: dict[int, Any] = {}
    for ret in order.returns.all():
        if ret.status in OPEN_RETURN_STATUSES:
            for rl in ret.lines.all():
                pending[rl.order_line_id] = pending.get(rl.order_line_id, 0) + rl.quantity
    return {line.pk: line.delivered - line.returned - pending.get(line.pk, 0) for line in order.lines.all()}


# Nothing moves any more on these orders: the jobs fragment stops polling. (A delivered order keeps
# polling a little longer: its EPOD PDF is rendered by a worker after the delivery.)
FINISHED = frozenset({OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


def _map_context(order: Order, jobs, *, include_site: bool) -> dict[str, Any]:
    return {
        "map_points": json.dumps(selectors.map_points(order, jobs, include_site=include_site)),
        "tile_url": settings.MAP_TILE_URL,
        "live": order.status not in FINISHED,
    }


@portal_view
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get(customer=request.customer, number=number)
    jobs = list(order.jobs.all())
    returnable = _returnable(order)
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
        **_map_context(order, jobs, include_site=True),
    }
    return render(request, "portal/order_detail.html", context)


@portal_view
@require_GET
def order_jobs(request: HttpRequest, number: str) -> HttpResponse:
    """The jobs fragment polled by htmx: live status, ETA and the map's markers."""
    order, jobs = selectors.order_jobs(customer=request.customer, number=number)
    context = {"order": order, "jobs": jobs, **_map_context(order, jobs, include_site=True)}
    return render(request, "portal/_jobs.html", context)


@portal_view
@require_GET
def epod_pdf(request: HttpRequest, number: str, ticket: str) -> HttpResponse:
    epod = selectors.epod_get(customer=request.customer, number=number, ticket=ticket)
    if not epod.pdf:
        raise Http404
    try:
        handle = epod.pdf.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    return FileResponse(
        handle, as_attachment=True, filename=f"EPOD-{ticket}.pdf", content_type="application/pdf"
    )


@portal_view
@require_http_methods(["GET", "POST"])
def order_messages(request: HttpRequest, number: str) -> HttpResponse:
    """The order's message thread (fragment); POST adds the customer's message."""
    order = selectors.order_get_plain(customer=request.customer, number=number)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order_message_post(order=order, body=form.cleaned_data["body"], actor=portal_actor(request.user))
        except DomainError as error:
            form.add_error("body", _errors(error))
        else:
            if not _is_htmx(request):
                messages.success(request, _("Message sent."))
                return redirect(reverse("portal:order", args=[order.number]) + "#messages")
            form = MessageForm()
    context = {"order": order, "thread": selectors.order_messages(order=order), "message_form": form}
    return render(request, "portal/_messages.html", context)


@portal_view
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
            form.add_error(None, _errors(error))
        else:
            due = timezone.localtime(call.due_at)
            messages.success(request, _("We will call you back by %(time)s.") % {"time": f"{due:%H:%M}"})
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "callback"})


@portal_view
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
            form.add_error(None, _errors(error))
        else:
            messages.success(request, _("Call-off sent. Dispatch will schedule the load."))
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "call_off"})


@portal_view
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
            form.add_error(None, _errors(error))
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
@require_http_methods(["GET", "POST"])
def order_return_view(request: HttpRequest, number: str) -> HttpResponse:
    order = selectors.order_get(customer=request.customer, number=number)
    returnable = _returnable(order)
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
            form.add_error(None, _errors(error))
        else:
            messages.success(request, _("Return %(number)s requested.") % {"number": ret.number})
            return redirect("portal:order", number=order.number)
    return render(request, "portal/order_action.html", {"order": order, "form": form, "action": "return"})


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


def _place(request: HttpRequest, form: PlaceOrderForm, lines: LineFormSet) -> str:
    """Place the order once per form token; a repeated submit gets the first order's number."""
    data = form.cleaned_data
    if data["site"] == PlaceOrderForm.NEW_SITE:
        site = SiteRef(data=SiteData.from_mapping(data, prefix="new_site_"))
    else:
        site = SiteRef(id=data["site"])
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
                form.add_error(None, _errors(error))
                # A new token: the corrected form is a new request, not a retry of the failed one.
                data = request.POST.copy()
                data["form_token"] = secrets.token_urlsafe(24)
                form = PlaceOrderForm(data, sites=sites)
                form.is_valid()
                form.add_error(None, _errors(error))
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


# --- sites ---------------------------------------------------------------------------------------


def _site_data(form: SiteForm) -> SiteData:
    return SiteData.from_mapping(form.cleaned_data)


@portal_view
@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/site_list.html", {"sites": selectors.site_list(customer=request.customer)})


@portal_view
@require_http_methods(["GET", "POST"])
def site_edit(request: HttpRequest, site_id=None) -> HttpResponse:
    site = selectors.site_get(customer=request.customer, public_id=site_id) if site_id else None
    initial = {}
    if site is not None:
        initial = {f: getattr(site, f) for f in SiteForm.base_fields if hasattr(site, f)}
        initial["contact_phone"] = str(site.contact_phone or "")
    form = SiteForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if site is None:
                site_create(customer=request.customer, data=_site_data(form))
            else:
                site_update(site=site, data=_site_data(form))
        except DomainError as error:
            form.add_error(None, _errors(error))
        else:
            messages.success(request, _("Site saved."))
            return redirect("portal:sites")
    return render(request, "portal/site_form.html", {"form": form, "site": site})


# --- public tracking -------------------------------------------------------------------------------


@_display_tz
@require_GET
def track_page(request: HttpRequest, token: str) -> HttpResponse:
    """Public: status, ETA and truck position of one order. No names, addresses, prices or contacts."""
    if len(token) > 64:
        raise Http404
    order, jobs = selectors.order_for_tracking(token=token)
    context = {"order": order, "jobs": jobs, "token": token, **_map_context(order, jobs, include_site=False)}
    template = "track/_status.html" if _is_htmx(request) else "track/page.html"
    response = render(request, template, context)
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "no-store"
    return response
