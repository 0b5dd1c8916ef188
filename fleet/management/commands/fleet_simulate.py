"""Demo fleet: trucks drive straight-line legs between plant and sites through the real services.

Every tick each truck on a running tour of today does one thing for its current job: start loading,
finish loading, leave, move along the leg (a GPS point through `positions_ingest`), arrive, unload,
sign the EPOD (a generated signature through `epod_submit`), drive the homerun. With `--dispatch`
it also plans today's unplanned delivery orders onto idle trucks (split, tour, assign, release).
The state lives in the database; only the progress along a leg is kept in memory (a restart begins
the leg again from the truck's last position).
"""

from __future__ import annotations

import io
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageDraw

from fleet.eta import haversine_km
from fleet.evidence import Evidence
from fleet.models import Job, JobStatus, JobType, Tour, TourStatus, Truck
from fleet.selectors import driver_today
from fleet.services import (
    epod_submit,
    job_assign,
    job_status_apply,
    order_split_into_jobs,
    positions_ingest,
    tour_plan,
    tour_release,
)
from fleet.services.common import driver_actor, job_site
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from orders.models import Fulfilment, Order, OrderStatus

logger = logging.getLogger(__name__)
SIM_SPEED_KMH = 45.0


@dataclass
class Leg:
    start: tuple[float, float]
    end: tuple[float, float]
    done_km: float = 0.0

    @property
    def total_km(self) -> float:
        return max(haversine_km(*self.start, *self.end), 0.01)

    def point(self) -> tuple[float, float]:
        share = min(self.done_km / self.total_km, 1.0)
        return (
            self.start[0] + (self.end[0] - self.start[0]) * share,
            self.start[1] + (self.end[1] - self.start[1]) * share,
        )


def _signature() -> Evidence:
    import hashlib

    image = Image.new("RGB", (200, 60), "white")
    ImageDraw.Draw(image).line([(10, 40), (60, 10), (110, 45), (190, 15)], fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    content = buffer.getvalue()
    return Evidence(content=content, format="PNG", sha256=hashlib.sha256(content).hexdigest())


class Simulator:
    def __init__(self, *, speedup: float, dispatch: bool):
        self.speedup = speedup
        self.dispatch = dispatch
        self.legs: dict[int, Leg] = {}
        self.signature = _signature()
        self.actor = Actor.system("fleet-simulator")

    def step(self, seconds: float) -> int:
        if self.dispatch:
            self.plan_orders()
        moved = 0
        tours = Tour.objects.filter(
            status__in=[TourStatus.RELEASED, TourStatus.STARTED], driver__isnull=False
        ).select_related("truck", "driver__plant", "plant")
        for tour in tours:
            if tour.date != driver_today(tour.driver):
                continue
            try:
                moved += self.drive(tour, seconds)
            except DomainError as exc:
                logger.warning("simulator: %s on tour %s", exc.detail, tour.number)
        return moved

    def drive(self, tour: Tour, seconds: float) -> int:
        job = (
            tour.jobs.exclude(status__in=[JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED])
            .select_related("order__site", "plant")
            .order_by("sequence", "pk")
            .first()
        )
        if job is None:
            return 0
        actor = driver_actor(tour.driver)
        now = timezone.now()
        nxt = {
            JobStatus.LOADING: JobStatus.LOADED,
            JobStatus.LOADED: JobStatus.EN_ROUTE,
            JobStatus.ARRIVED: JobStatus.UNLOADING if job.type == JobType.DELIVERY else JobStatus.DELIVERED,
        }
        if job.status == JobStatus.ASSIGNED:
            status = JobStatus.LOADING if job.type == JobType.DELIVERY else JobStatus.EN_ROUTE
            job_status_apply(job=job, status=status, at=now, actor=actor)
        elif job.status in nxt:
            job_status_apply(job=job, status=nxt[job.status], at=now, actor=actor)
        elif job.status == JobStatus.EN_ROUTE:
            self.move(tour.truck, job, seconds, actor)
        elif job.status == JobStatus.UNLOADING:
            site = job_site(job)
            epod_submit(
                job=job,
                actor=actor,
                received_by="Site manager",
                signature=self.signature,
                photos=[],
                signed_at=now,
                lines=[
                    {
                        "position": line.order_line.position,
                        "delivered": line.loaded or line.planned,
                        "returned": 0,
                    }
                    for line in job.lines.select_related("order_line")
                ],
                lat=site["lat"],
                lon=site["lon"],
            )
        return 1

    def move(self, truck: Truck, job: Job, seconds: float, actor: Actor) -> None:
        site = job_site(job)
        if site["lat"] is None or site["lon"] is None:
            job_status_apply(job=job, status=JobStatus.ARRIVED, at=timezone.now(), actor=actor)
            return
        leg = self.legs.get(job.pk)
        if leg is None:
            start = (
                (truck.last_lat, truck.last_lon)
                if truck.last_lat is not None
                else (job.plant.lat, job.plant.lon)
            )
            leg = self.legs[job.pk] = Leg(start=start, end=(site["lat"], site["lon"]))
        leg.done_km += SIM_SPEED_KMH * seconds * self.speedup / 3600
        lat, lon = leg.point()
        positions_ingest(
            truck=truck,
            points=[{"at": timezone.now(), "lat": lat, "lon": lon, "speed": SIM_SPEED_KMH, "heading": None}],
        )
        if leg.done_km >= leg.total_km:
            del self.legs[job.pk]
            job_status_apply(job=job, status=JobStatus.ARRIVED, at=timezone.now(), actor=actor)

    def plan_orders(self) -> None:
        today = timezone.localdate()
        orders = (
            Order.objects.filter(
                fulfilment=Fulfilment.DELIVERY,
                requested_date=today,
                status__in=[OrderStatus.PLACED, OrderStatus.CONFIRMED],
                on_call=False,
            )
            .exclude(jobs__status__in=[s for s in JobStatus if s != JobStatus.CANCELLED])
            .order_by("pk")[:3]
        )
        for order in orders:
            busy = Tour.objects.filter(
                Q(status__in=[TourStatus.RELEASED, TourStatus.STARTED]) | Q(status=TourStatus.PLANNED),
                date=today,
            ).values("truck_id")
            truck = Truck.objects.filter(plant=order.plant, active=True).exclude(pk__in=busy).first()
            driver = (
                order.plant.drivers.filter(active=True)
                .exclude(tours__date=today, tours__status__in=[TourStatus.RELEASED, TourStatus.STARTED])
                .first()
            )
            if truck is None or driver is None:
                return
            try:
                tour = tour_plan(plant=order.plant, truck=truck, driver=driver, date=today, actor=self.actor)
                for job in order_split_into_jobs(order=order, actor=self.actor, capacity=truck.capacity):
                    job_assign(job=job, tour=tour, actor=self.actor)
                tour_release(tour=tour, actor=self.actor)
            except DomainError as exc:
                logger.warning("simulator could not plan %s: %s", order.number, exc.detail)


class Command(BaseCommand):
    help = "Drive the demo fleet: positions and job events through the real services."

    def add_arguments(self, parser):
        parser.add_argument("--tick", type=float, default=2.0, help="seconds between steps (default 2)")
        parser.add_argument("--speedup", type=float, default=20.0, help="simulated seconds per real second")
        parser.add_argument("--iterations", type=int, default=0, help="stop after N steps (0 = run forever)")
        parser.add_argument("--dispatch", action="store_true", help="also plan today's unplanned orders")

    def handle(self, *args, tick: float, speedup: float, iterations: int, dispatch: bool, **options):
        simulator = Simulator(speedup=speedup, dispatch=dispatch)
        steps = actions = 0
        started = time.monotonic()
        while iterations == 0 or steps < iterations:
            actions += simulator.step(tick)
            steps += 1
            if iterations == 0 or steps < iterations:
                time.sleep(tick)
        elapsed = timedelta(seconds=round(time.monotonic() - started))
        self.stdout.write(f"fleet_simulate: {steps} steps, {actions} truck actions in {elapsed}")
