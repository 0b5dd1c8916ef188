"""The dispatch board: tours of the day, jobs waiting for a truck, the truck map, plan and assign."""

from __future__ import annotations

from datetime import date as Date

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from catalog.models import Plant
from console import forms, selectors
from console.views.common import (
    act,
    actor,
    audit,
    display_today,
    error_text,
    form_error_redirect,
    page_context,
    post_only,
    safe_back,
)
from fleet import services as fleet_services
from oms.exceptions import DomainError
from orders.services.placement import plant_today


def _board_params(request: HttpRequest) -> tuple[Date, Plant | None]:
    form = forms.BoardFilterForm(request.GET or None)
    day, plant = None, None
    if form.is_valid():
        day, plant = form.cleaned_data["date"], form.cleaned_data["plant"]
    if day is None:
        first = selectors.default_board_plant()
        day = plant_today(plant or first) if (plant or first) else display_today()
    return day, plant


def dispatch_board(request: HttpRequest) -> HttpResponse:
    day, plant = _board_params(request)
    board = selectors.dispatch_board(
        date=day, plant_id=plant.pk if plant else None, plan_page=request.GET.get("page")
    )
    query = urlencode({"date": day.isoformat(), **({"plant": plant.pk} if plant else {})})
    return render(
        request,
        "admin/console/dispatch.html",
        page_context(
            request,
            _("Dispatch board"),
            filter_form=forms.BoardFilterForm(initial={"date": day, "plant": plant}),
            # Its own ids: the filter form above has a date field too.
            plan_form=forms.PlanTourForm(initial={"date": day}, auto_id="plan_%s"),
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
    return safe_back(request, reverse("admin:console-dispatch"))


def job_assign(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    job = selectors.job_get(pk=pk)
    form = forms.AssignJobForm(request.POST)
    back = _board_back(request)
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    tour = selectors.tour_with_truck(pk=form.cleaned_data["tour"])
    if tour is None:
        messages.error(request, _("Choose a tour."))
        return redirect(back)
    return act(
        request,
        job,
        _("Job %(ticket)s assigned to %(truck)s.") % {"ticket": job.ticket, "truck": tour.truck.code},
        lambda: fleet_services.job_assign(job=job, tour=tour, actor=actor(request)),
        back,
    )


def tour_plan(request: HttpRequest) -> HttpResponse:
    post_only(request)
    form = forms.PlanTourForm(request.POST)
    back = _board_back(request)
    if not form.is_valid():
        return form_error_redirect(request, form, back)
    d = form.cleaned_data
    try:
        tour = fleet_services.tour_plan(
            plant=d["truck"].plant,
            truck=d["truck"],
            driver=d["driver"],
            date=d["date"],
            actor=actor(request),
        )
        audit(request, tour, _("Tour planned from the dispatch board."))
    except DomainError as error:
        messages.error(request, error_text(error))
    else:
        messages.success(request, _("Tour %(number)s planned.") % {"number": tour.number})
    return redirect(back)


def order_split(request: HttpRequest, pk: int) -> HttpResponse:
    post_only(request)
    order = selectors.order_get(pk=pk)
    return act(
        request,
        order,
        _("Jobs created."),
        lambda: fleet_services.order_split_into_jobs(order=order, actor=actor(request)),
        _board_back(request),
    )


def tour_release(request: HttpRequest, pk: int) -> HttpResponse:
    """Release a planned tour: its driver sees it (and its loads) from now on."""
    post_only(request)
    tour = selectors.tour_get(pk=pk)
    return act(
        request,
        tour,
        _("Tour %(number)s released.") % {"number": tour.number},
        lambda: fleet_services.tour_release(tour=tour, actor=actor(request)),
        _board_back(request),
    )
