"""The dashboard, "a picture of the day": charts of the day's figures for dispatchers, reps and
managers (definitions in `console.selectors.dashboard`)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from console import charts, forms, selectors
from console.selectors.dashboard import Dashboard
from console.views.common import page_context


def dashboard(request: HttpRequest) -> HttpResponse:
    form = forms.BoardFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        context = page_context(request, _("Picture of the day"), filter_form=form, dash=None)
        return render(request, "admin/console/dashboard.html", context, status=400)
    plant = form.cleaned_data["plant"] if form.is_bound else None
    day = (form.cleaned_data["date"] if form.is_bound else None) or selectors.dashboard_default_day(plant)
    dash = selectors.dashboard(day=day, plant=plant)
    context = page_context(
        request,
        _("Picture of the day"),
        filter_form=forms.BoardFilterForm(initial={"date": day, "plant": plant}),
        dash=dash,
        charts=_charts(dash),
        display_time_zone=settings.OMS_DISPLAY_TIME_ZONE,
    )
    # Times (the ERP backlog's) read in the display time zone, like the definitions on the page.
    with timezone.override(settings.OMS_DISPLAY_TIME_ZONE):
        return render(request, "admin/console/dashboard.html", context)


def _charts(dash: Dashboard) -> dict[str, object]:
    on_time, calls = dash.on_time, dash.callbacks
    return {
        "status": charts.hbars([(f.label, f.value) for f in dash.loads_by_status]),
        "plant": charts.hbars([(f.label, f.value) for f in dash.loads_by_plant]),
        "on_time": charts.hbars(
            [(_("On time"), on_time.on_time), (_("Early"), on_time.early), (_("Late"), on_time.late)],
            css=["dash-good", "dash-warn", "dash-bad"],
        ),
        "truck": charts.hbars([(f.label or _("No truck yet"), f.value) for f in dash.loads_per_truck]),
        "volume": charts.stacked_columns(dash.volume.rows),
        "callbacks": charts.hbars(
            [
                (_("Answered in time"), calls.in_time),
                (_("Answered late"), calls.late),
                (_("Waiting past the SLA"), calls.overdue),
                (_("Waiting within the SLA"), calls.waiting),
            ],
            css=["dash-good", "dash-bad", "dash-bad", "dash-bar"],
        ),
        "backlog_waiting": charts.line(
            [(p.at, p.waiting) for p in dash.backlog], since=dash.backlog_since, until=dash.backlog_until
        ),
        "backlog_age": charts.line(
            [(p.at, p.oldest_minutes or 0) for p in dash.backlog],
            since=dash.backlog_since,
            until=dash.backlog_until,
        ),
    }
