"""Reads of the console's order page and order actions."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from console.selectors.common import CLOSED_JOB, erp_refs_of
from fleet.models import Job, JobLine, Message, ProofOfDelivery
from oms.models import OutboxMessage, OutboxStatus
from orders.models import Order, OrderEvent, OrderLine, ReturnRequest

# How the console shows an outbox message's status (pending / sent / acknowledged / failed).
SYNC_PENDING, SYNC_SENT, SYNC_ACK, SYNC_FAILED = "pending", "sent", "acknowledged", "failed"


def sync_state(message: OutboxMessage | None) -> str:
    if message is None:
        return ""
    if message.status == OutboxStatus.PENDING:
        return SYNC_PENDING
    if message.status == OutboxStatus.SENT:
        return SYNC_ACK if message.erp_ack else SYNC_SENT
    return SYNC_FAILED


def order_get(*, pk: int) -> Order:
    """The order alone (an action's service locks and re-reads it), or 404."""
    return get_object_or_404(Order, pk=pk)


def order_with_plant(*, pk: int) -> Order:
    """The order with its plant, or 404."""
    return get_object_or_404(Order.objects.select_related("plant"), pk=pk)


def order_for_console() -> QuerySet[Order]:
    return Order.objects.select_related(
        "customer", "site", "plant", "sales_point", "erp_system", "created_by"
    )


def epod_of_job(*, pk: int) -> ProofOfDelivery:
    """The proof of delivery of the job `pk` with its job (for the ticket), or 404."""
    return get_object_or_404(ProofOfDelivery.objects.select_related("job"), job_id=pk)


def order_for_page(*, pk: int) -> Order:
    """The order of the order page with its customer, site, plant, sales point and ERP, or 404."""
    return get_object_or_404(order_for_console(), pk=pk)


def order_page(*, order: Order) -> dict[str, Any]:
    """Lines, the unified timeline with each event's ERP sync state, jobs with trucks and EPODs."""
    lines = list(OrderLine.objects.filter(order=order).order_by("position"))
    events = list(
        OrderEvent.objects.filter(order=order).select_related("outbox_message").order_by("at", "pk")
    )
    for event in events:
        event.sync_state = sync_state(event.outbox_message)
        event.dead = bool(event.outbox_message and event.outbox_message.status == OutboxStatus.DEAD)
    jobs = list(
        Job.objects.filter(order=order)
        .select_related("tour__truck", "tour__driver", "plant", "epod")
        .prefetch_related(
            Prefetch("lines", queryset=JobLine.objects.select_related("order_line")),
            "amendments",
            "epod__photos",
        )
        .order_by("planned_at", "pk")
    )
    returns = list(
        ReturnRequest.objects.filter(order=order)
        .prefetch_related("lines__order_line")
        .order_by("-created_at", "-pk")
    )
    dead = list(
        OutboxMessage.objects.filter(
            aggregate_type="order", aggregate_id=order.number, status=OutboxStatus.DEAD
        ).order_by("sequence")
    )
    return {
        "order": order,
        "lines": lines,
        "events": events,
        "jobs": jobs,
        "returns": returns,
        "dead_messages": dead,
        "order_messages": list(Message.objects.filter(order=order).order_by("-at", "-pk")[:20]),
        "erp_refs": erp_refs_of(order),
        "map_points": _map_points(order, jobs),
    }


def _map_points(order: Order, jobs: list[Job]) -> list[dict[str, Any]]:
    """Trucks of the order's open jobs and its delivery site, for the map."""
    points = [
        {
            "kind": "truck",
            "lat": job.tour.truck.last_lat,
            "lon": job.tour.truck.last_lon,
            "label": f"{job.tour.truck.code} · {job.ticket}",
        }
        for job in jobs
        if job.tour_id and job.tour.truck.last_lat is not None and job.status not in CLOSED_JOB
    ]
    site = order.site
    if site is not None and site.lat is not None:
        points.append({"kind": "site", "lat": site.lat, "lon": site.lon, "label": site.name})
    return points


def order_lines(*, order: Order) -> list[OrderLine]:
    """The order's lines by position."""
    return list(order.lines.order_by("position"))


def lines_in_truck(lines: list[OrderLine]) -> list[OrderLine]:
    """Lines with goods loaded but not delivered (what may come back on a cancellation)."""
    return [line for line in lines if line.loaded > line.delivered]


def lines_returnable(lines: list[OrderLine]) -> list[OrderLine]:
    """Lines with delivered goods not yet returned."""
    return [line for line in lines if line.delivered > line.returned]


def return_get(*, pk: int) -> ReturnRequest:
    """The return request with its order, or 404."""
    return get_object_or_404(ReturnRequest.objects.select_related("order"), pk=pk)


def driver_job_for_message(*, order: Order, job_id: int | None) -> Job | None:
    """The order's job `job_id` if a driver has it, else its latest job with a driver (None if none)."""
    return (
        Job.objects.filter(order=order, tour__driver__isnull=False).filter(pk=job_id or 0).first()
        or Job.objects.filter(order=order, tour__driver__isnull=False).order_by("-pk").first()
    )
