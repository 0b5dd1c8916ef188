"""Order exports: a CSV of the filtered order list, streamed when small, else written by a task."""

from __future__ import annotations

import csv
import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from console import forms, selectors, services
from console.views.common import audit, form_error_redirect, page_context
from oms.lib.files import PRIVATE_NO_STORE, stored_file_response

# Above this many rows the export runs in a Celery task and the rep gets a link.
EXPORT_SYNC_LIMIT = settings.OMS_EXPORT_SYNC_LIMIT


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_orders(request: HttpRequest) -> HttpResponse:
    """CSV of the filtered order list: streamed when small, else written by a Celery task."""
    form = forms.ExportForm.from_query(request.GET)
    if not form.is_valid():
        return form_error_redirect(request, form, reverse("admin:orders_order_changelist"))
    filters = form.filters()
    count = selectors.order_export_count(filters, cap=EXPORT_SYNC_LIMIT + 1)
    audit_obj = request.user
    if count > EXPORT_SYNC_LIMIT:
        name = services.order_export_queue(user_id=request.user.pk, filters=filters)
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
        for row in services.export_rows(selectors.order_export_iterator(filters, chunk_size=1000)):
            yield writer.writerow(row)

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{services.export_new_name()}"'
    response["Cache-Control"] = PRIVATE_NO_STORE
    return response


def exports(request: HttpRequest) -> HttpResponse:
    files = selectors.export_files(request.user.pk)
    return render(request, "admin/console/exports.html", page_context(request, _("Exports"), files=files))


def export_download(request: HttpRequest, name: str) -> HttpResponse:
    """One of the user's own exports (another user's name is simply not in their folder: 404)."""
    if not services.is_export_name(name):
        raise Http404
    return stored_file_response(
        services.export_path(request.user.pk, name), filename=name, content_type="text/csv; charset=utf-8"
    )
