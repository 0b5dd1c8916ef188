"""Fleet reads: what a driver may see, and the public tracking view of an order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import (
    Case,
    DecimalField,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from fleet.models import (
    Driver,
    Job,
    JobLine,
    JobStatus,
    Message,
    ProofOfDelivery,
    Tour,
    TourStatus,
    Truck,
)
from oms.exceptions import NotFound
from oms.lib.files import safe_name
from orders.models import Order

DRIVER_VISIBLE_TOURS = (TourStatus.RELEASED, TourStatus.STARTED, TourStatus.COMPLETED)
# The inbox without `since`: the messages of this many days (covers the current and today's tours).
INBOX_DEFAULT_DAYS = 7
# Job statuses in which the truck's position is shown (to the customer and on the public page).
TRUCK_VISIBLE_STATUSES = frozenset({JobStatus.EN_ROUTE, JobStatus.ARRIVED, JobStatus.UNLOADING})


def order_for_tracking() -> QuerySet[Order]:
    """Orders looked up by their public tracking token, with jobs and trucks loaded."""
    return Order.objects.prefetch_related(
        Prefetch(
            "jobs",
            queryset=Job.objects.exclude(status=JobStatus.CANCELLED)
            .select_related("tour__truck")
            .order_by("planned_at", "pk"),
        )
    )


def driver_today(driver: Driver) -> Date:
    zone = driver.plant.timezone if driver.plant_id else settings.OMS_DISPLAY_TIME_ZONE
    return timezone.now().astimezone(ZoneInfo(zone)).date()


def _jobs_prefetch() -> Prefetch:
    """The jobs a driver works on: a cancelled job is off the tour (the driver was told)."""
    return Prefetch(
        "jobs",
        queryset=Job.objects.exclude(status=JobStatus.CANCELLED)
        .select_related("order__site", "plant")
        .prefetch_related(Prefetch("lines", queryset=JobLine.objects.select_related("order_line")))
        .order_by("sequence", "pk"),
    )


def driver_tours(*, driver: Driver, date: Date) -> QuerySet[Tour]:
    return (
        Tour.objects.filter(driver=driver, date=date, status__in=DRIVER_VISIBLE_TOURS)
        .select_related("truck", "plant")
        .prefetch_related(_jobs_prefetch())
        .order_by("planned_start", "pk")
    )


def _driver_jobs(driver: Driver) -> QuerySet[Job]:
    return Job.objects.filter(tour__driver=driver, tour__status__in=DRIVER_VISIBLE_TOURS)


def driver_job(*, driver: Driver, job_id: UUID | str) -> Job:
    """One of the driver's jobs (on a tour released to them), else NotFound — never another's."""
    job = (
        _driver_jobs(driver)
        .select_related("order__site", "plant", "tour__truck")
        .prefetch_related(Prefetch("lines", queryset=JobLine.objects.select_related("order_line")))
        .filter(public_id=job_id)
        .first()
    )
    if job is None:
        raise NotFound()
    return job


def driver_truck(*, driver: Driver, code: str) -> Truck:
    """The truck, if it is on one of the driver's running tours of today, else NotFound."""
    truck = (
        Truck.objects.filter(
            code=code,
            tours__driver=driver,
            tours__date=driver_today(driver),
            tours__status__in=[TourStatus.RELEASED, TourStatus.STARTED],
        )
        .distinct()
        .first()
    )
    if truck is None:
        raise NotFound()
    return truck


def driver_order(*, driver: Driver, number: str) -> Order:
    order = Order.objects.filter(number=number, jobs__in=_driver_jobs(driver)).distinct().first()
    if order is None:
        raise NotFound()
    return order


def driver_tour(*, driver: Driver, number: str) -> Tour:
    tour = Tour.objects.filter(number=number, driver=driver, status__in=DRIVER_VISIBLE_TOURS).first()
    if tour is None:
        raise NotFound()
    return tour


def driver_epod(*, driver: Driver, epod_id: UUID | str) -> ProofOfDelivery:
    epod = ProofOfDelivery.objects.filter(public_id=epod_id, job__in=_driver_jobs(driver)).first()
    if epod is None:
        raise NotFound()
    return epod


@dataclass(frozen=True)
class EpodFile:
    """One stored file of a proof of delivery, with the name and type it is downloaded under."""

    name: str
    filename: str
    content_type: str


EPOD_FILE_KINDS = "`pdf`, `signature` or `photo-<n>` (1-based)"
_PHOTO_KIND = re.compile(r"photo-([1-9][0-9]?)")
_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg"}


def epod_file(epod: ProofOfDelivery, kind: str) -> EpodFile | None:
    """The EPOD's file of `kind` (EPOD_FILE_KINDS), or None when there is none (not rendered yet).

    The caller has already checked who may see the EPOD; the download name is built from the
    ticket through `safe_name`, never taken as it is.
    """
    stem = f"EPOD-{safe_name(epod.job.ticket)}"
    if kind == "pdf":
        return EpodFile(epod.pdf.name, f"{stem}.pdf", "application/pdf") if epod.pdf else None
    if kind == "signature":
        return EpodFile(epod.signature.name, f"{stem}-signature.png", "image/png") if epod.signature else None
    match = _PHOTO_KIND.fullmatch(kind)
    if match is None:
        return None
    photos = list(epod.photos.order_by("pk"))  # at most MAX_PHOTOS
    index = int(match.group(1))
    if index > len(photos):
        return None
    photo = photos[index - 1]
    extension = photo.image.name.rsplit(".", 1)[-1].lower()
    content_type = _IMAGE_TYPES.get(extension, "application/octet-stream")
    return EpodFile(photo.image.name, f"{stem}-{kind}.{extension}", content_type)


def _driver_inbox(driver: Driver) -> QuerySet[Message]:
    """The driver's messages (theirs, or addressed to them) about the jobs and tours released to them.

    A message about a job counts by the job's tour, one about a tour alone by the tour, one about an
    order alone by the order having one of the driver's jobs; a message of no thread counts as is.
    """
    visible = list(DRIVER_VISIBLE_TOURS)
    has_drivers_job = Exists(_driver_jobs(driver).filter(order=OuterRef("order")))
    return (
        Message.objects.filter(driver=driver)
        .filter(
            Q(job__tour__driver=driver, job__tour__status__in=visible)
            | Q(job__isnull=True, tour__driver=driver, tour__status__in=visible)
            | Q(has_drivers_job, job__isnull=True, tour__isnull=True, order__isnull=False)
            | Q(job__isnull=True, tour__isnull=True, order__isnull=True)
        )
        .select_related("order", "job__tour", "tour", "driver")
    )


def driver_messages(*, driver: Driver, since: datetime | None = None) -> QuerySet[Message]:
    """The driver's inbox after `since` (default: the last INBOX_DEFAULT_DAYS days), oldest first."""
    if since is None:
        since = timezone.now() - timedelta(days=INBOX_DEFAULT_DAYS)
    return _driver_inbox(driver).filter(at__gt=since).order_by("at", "pk")


def driver_message(*, driver: Driver, message_id: UUID | str) -> Message:
    """One message of the driver's inbox (of any age), else NotFound — never another driver's."""
    message = _driver_inbox(driver).filter(public_id=message_id).first()
    if message is None:
        raise NotFound()
    return message


def orders_to_plan(*, date: Date, plant_id: int | None = None) -> QuerySet[Order]:
    """Delivery orders due by `date` with a quantity no live load covers yet: an order never planned,
    an on-call order with a call-off not yet planned (every call-off, until the ordered quantity is
    used up), a load that failed. Each carries `to_plan` (the open quantity), and on-call orders
    `called_off` and `left` (what is still to call off); paused orders are listed, marked paused.
    Oldest request first; the caller pages through them."""
    live = (
        JobLine.objects.filter(order_line__order=OuterRef("pk"))
        .exclude(job__status__in=[JobStatus.CANCELLED, JobStatus.FAILED])
        .exclude(job__type="return_pickup")
        .values("order_line__order")
        .annotate(total=Sum("planned"))
        .values("total")
    )
    zero = Value(Decimal("0"), output_field=DecimalField(max_digits=14, decimal_places=3))
    orders = (
        Order.objects.filter(
            requested_date__lte=date,
            status__in=["placed", "confirmed", "scheduled", "in_delivery", "partially_delivered"],
            fulfilment="delivery",
        )
        .annotate(
            ordered=Coalesce(Sum(F("lines__quantity") - F("lines__cancelled")), zero),
            called_off=Coalesce(Sum("lines__released"), zero),
            planned=Coalesce(Subquery(live), zero),
        )
        .annotate(
            target=Case(When(on_call=True, then=F("called_off")), default=F("ordered")),
        )
        .annotate(to_plan=F("target") - F("planned"), left=F("ordered") - F("called_off"))
        .filter(to_plan__gt=0)
        .select_related("customer", "plant")
        .order_by("requested_date", "window_from", "pk")
    )
    if plant_id:
        orders = orders.filter(plant_id=plant_id)
    return orders
