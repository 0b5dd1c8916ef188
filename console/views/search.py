"""Console home, unified search and the customer 360 page (with the portal invite)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from console import forms, selectors, services
from console.views.common import act, actor, form_error_redirect, page_context, post_only


def console_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/console/index.html",
        page_context(request, _("Console"), counts=selectors.queue_counts(), form=forms.SearchForm()),
    )


def search(request: HttpRequest) -> HttpResponse:
    form = forms.SearchForm(request.GET or None)
    results = None
    if form.is_valid() and form.cleaned_data["q"]:
        results = selectors.console_search(q=form.cleaned_data["q"])
    return render(
        request, "admin/console/search.html", page_context(request, _("Search"), form=form, results=results)
    )


def customer_360(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.customer_for_360(pk=pk)
    data = selectors.customer_360(customer=customer)
    return render(
        request,
        "admin/console/customer.html",
        page_context(
            request,
            str(customer),
            invite_form=forms.PortalInviteForm(initial={"email": customer.email}),
            **data,
        ),
    )


def customer_invite(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    customer = selectors.customer_get(pk=pk)
    form = forms.PortalInviteForm(request.POST)
    back = reverse("admin:console-customer", args=[pk])
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    email = form.cleaned_data["email"]
    return act(
        request,
        customer,
        _("Portal invite sent to %(email)s.") % {"email": email},
        lambda: services.portal_invite_send(customer=customer, email=email, actor=actor(request)),
        back,
    )
