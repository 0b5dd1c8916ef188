"""ETA per job, and the plant's learned road speed.

Model
-----
* Distance is the great-circle (haversine) distance between waypoints times `ROAD_FACTOR` (roads
  are longer than straight lines; 1.3 is the usual urban/suburban detour index).
* The truck drives from its last reported position through the remaining stops of its tour in
  sequence order: for a delivery that has not left yet, first the plant (plus `LOAD_MINUTES` unless
  it is already loaded), then the site. Every delivery stop before the job costs `UNLOAD_MINUTES`.
* Speed is the plant's `avg_speed_kmh`. After each delivered job with known departure and arrival
  times it is updated as an exponential moving average:
  `avg ← (1 − ALPHA) · avg + ALPHA · observed`, where `observed = road distance plant→site / drive
  time`, clamped to [`MIN_KMH`, `MAX_KMH`] so that one odd trip (a coffee stop, a GPS jump) cannot
  ruin it. ALPHA = 0.2 means the last ~10 trips carry ~90 % of the weight. The update is a single
  `UPDATE … SET avg = avg * 0.8 + x` — no read-modify-write race.
* ETAs are recomputed whenever a batch of positions arrives and after each job status change;
  jobs already at the site keep their arrival time as ETA; finished jobs keep their last ETA.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import F

from catalog.models import Plant
from fleet.models import Job, JobStatus, JobType, Tour, TourStatus, Truck

ROAD_FACTOR = 1.3
LOAD_MINUTES = 15
UNLOAD_MINUTES = 25
ALPHA = Decimal("0.2")
MIN_KMH = 5.0
MAX_KMH = 120.0
EARTH_RADIUS_KM = 6371.0088

_BEFORE_DEPARTURE = frozenset({JobStatus.PLANNED, JobStatus.ASSIGNED, JobStatus.LOADING, JobStatus.LOADED})
_AT_SITE = frozenset({JobStatus.ARRIVED, JobStatus.UNLOADING})
_OPEN = _BEFORE_DEPARTURE | {JobStatus.EN_ROUTE}


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def road_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return haversine_km(a[0], a[1], b[0], b[1]) * ROAD_FACTOR


def _site_point(job: Job) -> tuple[float, float] | None:
    from fleet.services.common import job_site

    site = job_site(job)
    if site["lat"] is None or site["lon"] is None:
        return None
    return (float(site["lat"]), float(site["lon"]))


def compute_etas(
    *, start: tuple[float, float], start_at: datetime, plant: Plant, jobs: list[Job]
) -> dict[int, datetime | None]:
    """ETA per job id for the open `jobs` of one tour (in sequence order), from `start`."""
    speed = float(plant.avg_speed_kmh) or 40.0
    plant_point = (plant.lat, plant.lon) if plant.lat is not None and plant.lon is not None else None
    here, clock = start, start_at
    etas: dict[int, datetime | None] = {}
    for job in jobs:
        if job.status in _AT_SITE:
            etas[job.pk] = job.arrived_at
            clock += timedelta(minutes=UNLOAD_MINUTES)
            continue
        site = _site_point(job)
        if site is None:
            etas[job.pk] = None
            continue
        if job.type != JobType.HOMERUN and job.status in _BEFORE_DEPARTURE and plant_point is not None:
            clock += timedelta(hours=road_km(here, plant_point) / speed)
            if job.status != JobStatus.LOADED:
                clock += timedelta(minutes=LOAD_MINUTES)
            here = plant_point
        clock += timedelta(hours=road_km(here, site) / speed)
        etas[job.pk] = clock
        here = site
        if job.type == JobType.DELIVERY:
            clock += timedelta(minutes=UNLOAD_MINUTES)
    return etas


def eta_refresh_truck(*, truck: Truck, at: datetime | None = None) -> int:
    """Recompute the ETAs of the open jobs on the truck's running tours. Returns jobs updated."""
    if truck.last_lat is None or truck.last_lon is None or truck.last_position_at is None:
        return 0
    tours = list(
        Tour.objects.filter(truck=truck, status__in=[TourStatus.RELEASED, TourStatus.STARTED]).select_related(
            "plant"
        )
    )
    changed: list[Job] = []
    for tour in tours:
        jobs = list(
            tour.jobs.filter(status__in=_OPEN | _AT_SITE)
            .select_related("order__site", "plant")
            .order_by("sequence", "pk")
        )
        if not jobs:
            continue
        etas = compute_etas(
            start=(truck.last_lat, truck.last_lon),
            start_at=at or truck.last_position_at,
            plant=tour.plant,
            jobs=jobs,
        )
        for job in jobs:
            eta = etas.get(job.pk)
            if eta != job.eta:
                job.eta = eta
                changed.append(job)
    if changed:
        Job.objects.bulk_update(changed, ["eta"])
    return len(changed)


def plant_speed_learn(*, job: Job) -> Decimal | None:
    """Fold one delivered trip into the plant's average speed. Returns the observed km/h or None."""
    plant = job.plant
    site = _site_point(job)
    if (
        job.departed_at is None
        or job.arrived_at is None
        or site is None
        or plant.lat is None
        or plant.lon is None
    ):
        return None
    hours = (job.arrived_at - job.departed_at).total_seconds() / 3600
    distance = road_km((plant.lat, plant.lon), site)
    if hours < 1 / 60 or distance < 0.5:
        return None
    observed = Decimal(str(round(min(max(distance / hours, MIN_KMH), MAX_KMH), 1)))
    Plant.objects.filter(pk=plant.pk).update(
        avg_speed_kmh=F("avg_speed_kmh") * (1 - ALPHA) + observed * ALPHA
    )
    return observed
