"""The customer's delivery sites: list, add and edit."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from customers.services import SiteData, site_create, site_update
from oms.exceptions import DomainError
from oms.lib.throttle import throttled_writes
from portal import selectors
from portal.forms import SiteForm
from portal.views.common import errors, portal_view


def _site_data(form: SiteForm) -> SiteData:
    return SiteData.from_mapping(form.cleaned_data)


@portal_view
@require_GET
def site_list(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/site_list.html", {"sites": selectors.site_list(customer=request.customer)})


@portal_view
@throttled_writes("site")
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
            form.add_error(None, errors(error))
        else:
            messages.success(request, _("Site saved."))
            return redirect("portal:sites")
    return render(request, "portal/site_form.html", {"form": form, "site": site})
