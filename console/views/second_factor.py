"""The staff's second-factor pages in the admin site: the code after the password, enrolment of an
authenticator app, and new recovery codes. The rules live in `console.second_factor`; until the code
is given, every other URL sends the user here (`console.middleware`)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from console import second_factor
from console.forms import AuthenticatorCodeForm, RecoveryCodeForm
from console.views.common import page_context

TEMPLATES = "admin/second_factor/"


def _next_url(request: HttpRequest) -> str:
    """The page the user was sent here from (same site only), else the admin index."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("admin:index")


def _refusal(result: second_factor.Verification) -> str:
    if result.throttled:
        return _("Too many wrong codes in a row. Wait a few seconds, then try again.")
    return _("That code is not valid. Check it and try again.")


def _page(request: HttpRequest, template: str, title: str, status: int = 200, **extra) -> TemplateResponse:
    context = page_context(request, title, next=_next_url(request), **extra)
    return TemplateResponse(request, TEMPLATES + template, context, status=status)


def _recovery_codes_page(request: HttpRequest, codes: list[str]) -> TemplateResponse:
    return _page(request, "recovery_codes.html", _("Your recovery codes"), codes=codes)


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a code from the authenticator app, or one of the recovery codes."""
    user = request.user
    if not second_factor.has_second_factor(user):
        return redirect(f"{reverse('admin:second-factor-enrol')}?{urlencode({'next': _next_url(request)})}")
    if user.is_verified():
        return redirect(_next_url(request))
    recovery = "recovery_code" in request.POST
    code_form = AuthenticatorCodeForm(request.POST if request.method == "POST" and not recovery else None)
    recovery_form = RecoveryCodeForm(request.POST if recovery else None)
    form, field = (recovery_form, "recovery_code") if recovery else (code_form, "code")
    status = 200
    if request.method == "POST" and form.is_valid():
        result = second_factor.second_factor_verify(
            user=user, code=form.cleaned_data[field], recovery=recovery
        )
        if result.device is not None:
            otp_login(request, result.device)
            if recovery:
                left = second_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    ngettext(
                        "You used a recovery code: %(count)d is left. Make new ones under Two-step verification.",
                        "You used a recovery code: %(count)d are left. Make new ones under Two-step verification.",
                        left,
                    )
                    % {"count": left},
                )
            return redirect(_next_url(request))
        form.add_error(field, _refusal(result))
        status = 429 if result.throttled else 200
    return _page(
        request,
        "verify.html",
        _("Two-step verification"),
        status,
        form=code_form,
        recovery_form=recovery_form,
    )


@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a first code,
    then keep the recovery codes shown once."""
    user = request.user
    if second_factor.has_second_factor(user):
        return redirect("admin:second-factor")
    device = second_factor.pending_totp_device(user)
    form = AuthenticatorCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        result = second_factor.totp_enrolment_confirm(user=user, code=form.cleaned_data["code"])
        if result.device is not None:
            otp_login(request, result.device)
            return _recovery_codes_page(request, second_factor.recovery_codes_issue(user=user))
        form.add_error("code", _refusal(result))
        status = 429 if result.throttled else 200
    return _page(
        request,
        "enrol.html",
        _("Set up two-step verification"),
        status,
        form=form,
        secret=second_factor.totp_secret(device),
        # Generated by segno from the device's own URL: markup we made, nothing the user typed.
        qr_svg=mark_safe(second_factor.totp_qr_svg(device)),  # noqa: S308
        required=second_factor.second_factor_required(user),
    )


@require_http_methods(["GET"])
def manage(request: HttpRequest) -> HttpResponse:
    """The user's own second factor: whether it is on, and how many recovery codes are left."""
    user = request.user
    return _page(
        request,
        "manage.html",
        _("Two-step verification"),
        enabled=second_factor.has_second_factor(user),
        required=second_factor.second_factor_required(user),
        codes_left=second_factor.recovery_codes_left(user),
    )


@require_POST
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes (the old ones stop working), shown once."""
    if not second_factor.has_second_factor(request.user):
        return redirect("admin:second-factor-enrol")
    return _recovery_codes_page(request, second_factor.recovery_codes_issue(user=request.user))
