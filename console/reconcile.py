"""The ERP drift report of the console: what the hourly comparison found between the OMS's orders and
what each ERP believes (docs/erp-integration.md, Order state), with one resend per drift and a check
on demand. Views only: reads come from `erp_sync.selectors`, writes from `erp_sync.services` and the
comparison task. Permissions are declared per route in `console.urls`.
"""

from __future__ import annotations

import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from erp_sync import selectors
from erp_sync.models import OrderDrift
from erp_sync.services import drift_resolve
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from oms.models import ErpSystem
from orders.models import OrderStatus

logger = logging.getLogger(__name__)
PAGE_SIZE = 100
# The status codes of drift values, shown as the order page shows them.
STATUS_LABELS = dict(OrderStatus.choices)


class CheckForm(forms.Form):
    system = forms.ModelChoiceField(
        label=gettext_lazy("ERP system"),
        queryset=ErpSystem.objects.filter(enabled=True),
        to_field_name="code",
        error_messages={
            "required": gettext_lazy("Choose an ERP system."),
            "invalid_choice": gettext_lazy("Choose an enabled ERP system."),
        },
    )


def _report_url(system: str = "") -> str:
    url = reverse("admin:console-erp-drift")
    return f"{url}?system={system}" if system else url


def _value(drift: OrderDrift, value: str, *, erp: bool) -> str:
    if drift.field == OrderDrift.Field.UNKNOWN and erp:
        return _("not known")
    if drift.field in (OrderDrift.Field.STATUS, OrderDrift.Field.UNKNOWN):
        return str(STATUS_LABELS.get(value, value))
    return value or "—"


def drift_report(request: HttpRequest) -> HttpResponse:
    code = request.GET.get("system", "")
    system = ErpSystem.objects.filter(code=code).first() if code else None
    page = Paginator(selectors.open_drifts(system), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [
        (drift, _value(drift, drift.oms_value, erp=False), _value(drift, drift.erp_value, erp=True))
        for drift in page.object_list
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("ERP drift"),
        "overview": selectors.drift_overview(),
        "selected": system.code if system else "",
        "page": page,
        "rows": rows,
    }
    return render(request, "admin/console/erp_drift.html", context)


def drift_check(request: HttpRequest) -> HttpResponse:
    """Queue the comparison of one ERP now (the hourly job's task, `erp_sync.tasks.compare_system`)."""
    from erp_sync.tasks import compare_system

    form = CheckForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors["system"]))
        return redirect(_report_url())
    system = form.cleaned_data["system"]
    try:
        compare_system.apply_async(args=[system.code], retry=False)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the page
        logger.warning("could not queue the ERP comparison", exc_info=True)
        messages.error(request, _("The comparison could not be queued; try again in a moment."))
    else:
        messages.success(
            request,
            _("The comparison with %(system)s is queued; its result shows here when it has run.")
            % {"system": system.code},
        )
    return redirect(_report_url(system.code))


def drift_resend(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "POST":
        raise Http404
    drift = get_object_or_404(OrderDrift.objects.select_related("system", "order"), pk=pk)
    back = _report_url(request.POST.get("system", ""))
    try:
        resolved = drift_resolve(drift=drift, actor=Actor.for_user(request.user))
    except DomainError as error:  # e.g. already resolved (InvalidTransition): a form error
        messages.error(request, _(str(error.detail)))
        return redirect(back)
    done = _("The OMS's view of %(order)s was queued for %(system)s; %(count)d drift(s) resolved.") % {
        "order": drift.order.number,
        "system": drift.system.code,
        "count": len(resolved),
    }
    LogEntry.objects.log_actions(
        user_id=request.user.pk,
        queryset=[drift.order],
        action_flag=CHANGE,
        change_message=done,
        single_object=True,
    )
    messages.success(request, done)
    return redirect(back)
