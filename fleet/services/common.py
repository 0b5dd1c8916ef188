"""Shared pieces of the fleet services: locking order, outbox payloads, plant-local dates.

Lock order, used by every fleet service (deadlock-free by construction):
orders → order lines → jobs → tours → trucks → drivers → stock levels, each by primary key.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum
from django.urls import reverse

from catalog.models import Plant, Unit
from fleet.models import ZERO_QTY, Driver, Job, JobType, Tour, Truck
from oms.lib.actors import Actor
from oms.lib.sequences import next_value
from oms.outbox import outbox_enqueue
from orders.models import Order


def qty(value) -> str:
    return f"{value:.3f}"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def plant_local_date(plant: Plant, at: datetime) -> date:
    return at.astimezone(ZoneInfo(plant.timezone)).date()


def new_ticket() -> str:
    return f"TK-{next_value('ticket_number'):07d}"


def new_tour_number() -> str:
    return f"TOUR-{next_value('tour_number'):06d}"


def driver_actor(driver: Driver) -> Actor:
    return Actor(kind="driver", name=driver.code, channel="driver")


def lock_order(order_id: int | None) -> Order | None:
    if order_id is None:
        return None
    return (
        Order.objects.select_for_update(of=("self",)).select_related("plant", "erp_system").get(pk=order_id)
    )


def lock_job(job_id: int) -> Job:
    return Job.objects.select_for_update().get(pk=job_id)


def job_delivered_m3_refresh(job: Job) -> None:
    """Recompute `Job.delivered_m3` from the job's lines; every writer of `JobLine.delivered` calls it
    in the same transaction, so the dashboard's m³ per plant and day never drifts from the lines."""
    total = job.lines.filter(order_line__unit=Unit.M3).aggregate(m3=Sum("delivered"))["m3"]
    job.delivered_m3 = total if total is not None else ZERO_QTY
    Job.objects.filter(pk=job.pk).update(delivered_m3=job.delivered_m3)


def lock_tour(tour_id: int) -> Tour:
    return Tour.objects.select_for_update().get(pk=tour_id)


def lock_truck(truck_id: int) -> Truck:
    return Truck.objects.select_for_update().get(pk=truck_id)


def lock_driver(driver_id: int) -> Driver:
    return Driver.objects.select_for_update().get(pk=driver_id)


def job_site(job: Job) -> dict[str, Any]:
    """Where the job goes: the order's delivery address, or the plant for a homerun."""
    if job.type == JobType.HOMERUN or job.order_id is None:
        plant = job.plant
        return {"name": plant.name, "address": plant.address, "lat": plant.lat, "lon": plant.lon}
    order = job.order
    address = order.address or {}
    site = order.site
    return {
        "name": address.get("name") or (site.name if site else ""),
        "address": address.get("address") or (site.address if site else ""),
        "lat": address.get("lat", site.lat if site else None),
        "lon": address.get("lon", site.lon if site else None),
    }


def job_lines_payload(job: Job, field: str = "planned") -> list[dict[str, Any]]:
    lines = sorted(job.lines.select_related("order_line"), key=lambda line: line.order_line.position)
    return [
        {
            "position": line.order_line.position,
            "sku": line.order_line.sku,
            "quantity": qty(getattr(line, field)),
        }
        for line in lines
    ]


def job_details_payload(job: Job) -> dict[str, Any]:
    tour = job.tour
    return {
        "order": job.order.number if job.order_id else None,
        "ticket": job.ticket,
        "type": job.type,
        "tour": tour.number if tour else None,
        "truck": tour.truck.code if tour else None,
        "driver": tour.driver.code if tour and tour.driver_id else None,
        "plant": job.plant.code,
        "planned_at": iso(job.planned_at),
        "lines": job_lines_payload(job),
    }


def tour_status_payload(tour: Tour, *, at: datetime) -> dict[str, Any]:
    truck = tour.truck
    payload: dict[str, Any] = {
        "tour": tour.number,
        "truck": truck.code,
        "driver": tour.driver.code if tour.driver_id else None,
        "status": tour.status,
        "at": at.isoformat(),
    }
    if truck.last_position_at is not None:
        payload["position"] = {
            "lat": truck.last_lat,
            "lon": truck.last_lon,
            "at": truck.last_position_at.isoformat(),
        }
    return payload


def job_outbox(job: Job, type: str, payload: dict[str, Any]):
    """An ERP message about a job (aggregate `job:<ticket>`), routed like the job's order."""
    order = job.order if job.order_id else None
    return outbox_enqueue(
        type=type,
        aggregate_type="job",
        aggregate_id=job.ticket,
        payload=payload,
        version=job.version,
        plant=job.plant,
        system=order.erp_system if order is not None and order.erp_system_id else None,
    )


def tour_outbox(tour: Tour, *, at: datetime):
    return outbox_enqueue(
        type="tour.status",
        aggregate_type="tour",
        aggregate_id=tour.number,
        payload=tour_status_payload(tour, at=at),
        version=tour.version,
        plant=tour.plant,
    )


def epod_pdf_url(epod) -> str:
    return settings.SITE_URL + reverse("driver-epod-pdf", args=[epod.public_id])
