"""Accounts: sign-in, sign-out, password reset, sign-up by emailed link, portal users, customer switch."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.core import signing
from django.core.mail import send_mail
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from customers.models import Customer
from customers.services import customer_match
from customers.signup import signup_link, signup_read
from oms.exceptions import DomainError
from oms.lib.signin import client_ip
from portal import ratelimit, selectors
from portal.forms import (
    TOO_MANY_REQUESTS,
    InviteForm,
    PortalLoginForm,
    PortalPasswordResetForm,
    SignupCompleteForm,
    SignupRequestForm,
)
from portal.services import portal_user_create
from portal.views.common import portal_view


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = PortalLoginForm
    redirect_authenticated_user = True

    def form_valid(self, form):
        response = super().form_valid(form)
        # The customer's language, unless this browser already chose one with the switcher.
        if settings.LANGUAGE_COOKIE_NAME not in self.request.COOKIES:
            customer = selectors.first_customer_for_user(user=form.get_user())
            if customer is not None and customer.language:
                response.set_cookie(
                    settings.LANGUAGE_COOKIE_NAME,
                    customer.language,
                    max_age=settings.LANGUAGE_COOKIE_AGE,
                    path=settings.LANGUAGE_COOKIE_PATH,
                    domain=settings.LANGUAGE_COOKIE_DOMAIN,
                    secure=settings.LANGUAGE_COOKIE_SECURE,
                    httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                    samesite=settings.LANGUAGE_COOKIE_SAMESITE,
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

    @property
    def extra_email_context(self) -> dict:
        # The email's link starts with OMS_SITE_URL, never with the Host header of the request.
        return {"site_url": settings.SITE_URL}

    def form_valid(self, form):
        wait = ratelimit.email_request_wait(
            scope="reset", email=form.cleaned_data["email"], ip=client_ip(self.request)
        )
        if wait is not None:
            form.add_error(None, TOO_MANY_REQUESTS)
            return _retry_after(self.render_to_response(self.get_context_data(form=form), status=429), wait)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("portal:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


def _retry_after(response: HttpResponse, wait: int) -> HttpResponse:
    """A refused email request says when to try again, like every other 429 of the site."""
    response["Retry-After"] = str(wait)
    return response


def _send_signup_link(*, email: str, customer: Customer, invited_by: str = "") -> None:
    body = render_to_string(
        "registration/signup_email.txt",
        {
            "link": signup_link(customer=customer, email=email),
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
        wait = ratelimit.email_request_wait(scope="signup", email=email, ip=client_ip(request))
        if wait is not None:
            form.add_error(None, TOO_MANY_REQUESTS)
            return _retry_after(render(request, "registration/signup.html", {"form": form}, status=429), wait)
        customer = customer_match(email=email)
        if customer is not None and not selectors.login_exists(email=email):
            _send_signup_link(email=email, customer=customer)
        return render(request, "registration/signup_sent.html", {"email": email})
    return render(request, "registration/signup.html", {"form": form})


@require_http_methods(["GET", "POST"])
def signup_complete(request: HttpRequest, token: str) -> HttpResponse:
    try:
        email, public_id = signup_read(token)
        customer = selectors.signup_customer(public_id=public_id)
    except (signing.BadSignature, ValueError, Customer.DoesNotExist):
        return render(request, "registration/signup_invalid.html", status=400)
    if selectors.login_exists(email=email):
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
        wait = ratelimit.email_request_wait(scope="invite", email=email, ip=client_ip(request))
        if wait is None:
            _send_signup_link(email=email, customer=customer, invited_by=request.user.get_username())
            messages.success(request, _("We sent a sign-up link to %(email)s.") % {"email": email})
            return redirect("portal:account")
        form.add_error(None, TOO_MANY_REQUESTS)
        users = selectors.portal_users(customer=customer)
        response = render(request, "portal/account.html", {"form": form, "users": users}, status=429)
        return _retry_after(response, wait)
    users = selectors.portal_users(customer=customer)
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
