"""The console dashboard, "a picture of the day": the day's loads, on-time deliveries, m³ delivered,
loads per truck, the call-back SLA and the ERP backlog, from six aggregate queries in all.

Definitions (the page states them too; docs/architecture.md, "Console dashboard"):

- The day's loads: the delivery jobs of the orders requested for the day, whatever their status;
  their plant is the job's plant, their truck the truck of the job's tour.
- On time: a delivered load whose delivery time (`Job.delivered_at`, the driver's "delivered"
  event), read in its plant's time zone, falls on the order's requested date within its window
  (`window_from`–`window_to`, both included; a missing bound is the start or the end of the day).
  Early is before that, late after. The on-time rate is on time ÷ delivered, of the day's loads.
- m³ delivered: the delivered quantity (`JobLine.delivered`) of the lines sold in m³, by the plant's
  local date of the load's delivery, over the 30 days that end with the day; read from each load's
  total (`Job.delivered_m3`, kept with its lines by the fleet services).
- Call-back SLA: call-backs requested on the day (display time zone) are answered in time when a rep
  started the call (`CallRequest.started_at`) within `OMS_CALLBACK_SLA_MINUTES` of the request. The
  rate is in time ÷ (in time + answered late + still waiting past the SLA).
- ERP backlog: the messages waiting to be delivered to an ERP (pending, or failed and retrying) and
  the age of the oldest, from the samples taken every 5 minutes (`erp_sync.OutboxSample`) over the
  last 24 hours (a past day: that day), plus the live figure now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, DateField, F, Q, QuerySet, Sum, TimeField, When
from django.db.models.functions import TruncDate, TruncTime
from django.utils import timezone

from catalog.models import Plant
from erp_sync.selectors import outbox_samples, outbox_waiting
from fleet.models import CallRequest, Job, JobStatus, JobType
from orders.services.placement import plant_today

VOLUME_DAYS = 30
BACKLOG_HOURS = 24
PERCENT = Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` in percent to one decimal, None when there is nothing to rate."""
    return (Decimal(part) * 100 / whole).quantize(PERCENT) if whole else None


@dataclass(frozen=True)
class Figure:
    """One labelled number of a chart: `key` is stable (a status, a plant code), `label` is shown."""

    key: str
    label: str
    value: int | Decimal


@dataclass(frozen=True)
class OnTime:
    delivered: int
    on_time: int
    early: int
    late: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.on_time, self.delivered)


@dataclass(frozen=True)
class CallbackSla:
    minutes: int
    in_time: int
    late: int
    overdue: int  # not started, past the SLA
    waiting: int  # not started, still within the SLA

    @property
    def requested(self) -> int:
        return self.in_time + self.late + self.overdue + self.waiting

    @property
    def rate(self) -> Decimal | None:
        return percent(self.in_time, self.in_time + self.late + self.overdue)


@dataclass(frozen=True)
class BacklogPoint:
    at: datetime
    waiting: int
    oldest_minutes: int | None  # age of the oldest waiting message, whole minutes


@dataclass(frozen=True)
class Volume:
    """m³ delivered per plant (`plants`, in order) per day (`days`, oldest first)."""

    days: list[Date]
    plants: list[Plant]
    m3: dict[tuple[int, Date], Decimal]

    def of(self, plant: Plant, day: Date) -> Decimal:
        return self.m3.get((plant.pk, day), Decimal("0.000"))

    @property
    def rows(self) -> list[tuple[Date, list[Decimal], Decimal]]:
        """Per day: the plants' m³ in `plants` order and their total."""
        out = []
        for day in self.days:
            values = [self.of(plant, day) for plant in self.plants]
            out.append((day, values, sum(values, Decimal("0.000"))))
        return out


@dataclass(frozen=True)
class Dashboard:
    day: Date
    plants: list[Plant]
    loads_by_status: list[Figure]
    loads_by_plant: list[Figure]
    loads_per_truck: list[Figure]
    on_time: OnTime
    volume: Volume
    callbacks: CallbackSla
    backlog: list[BacklogPoint]
    backlog_since: datetime
    backlog_until: datetime

    @property
    def loads_total(self) -> int:
        return sum(figure.value for figure in self.loads_by_status)


def dashboard_default_day(plant: Plant | None) -> Date:
    """Today at the plant (or at the first active plant; else in the display time zone)."""
    plant = plant or Plant.objects.filter(active=True).order_by("code").first()
    return (
        plant_today(plant) if plant else timezone.localdate(timezone=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE))
    )


def dashboard(*, day: Date, plant: Plant | None = None, now: datetime | None = None) -> Dashboard:
    """Every figure of the dashboard for `day`, of one plant or of every active plant."""
    now = now or timezone.now()
    plants = [plant] if plant else list(Plant.objects.filter(active=True).order_by("code"))
    zones = _zones(plants)
    loads = Job.objects.filter(
        type=JobType.DELIVERY, order__requested_date=day, plant_id__in=[p.pk for p in plants]
    )
    day_loads = _day_loads(loads, plants, zones) if plants else _DayLoads([], [], [], OnTime(0, 0, 0, 0))
    since, until = _backlog_window(day, now)
    return Dashboard(
        day=day,
        plants=plants,
        loads_by_status=day_loads.by_status,
        loads_by_plant=day_loads.by_plant,
        loads_per_truck=day_loads.per_truck,
        on_time=day_loads.on_time,
        volume=_volume(day, plants, zones),
        callbacks=_callbacks(day, plant, now),
        backlog=_backlog(since, until, now),
        backlog_since=since,
        backlog_until=until,
    )


# --- time zones -----------------------------------------------------------------------------------


def _zones(plants: list[Plant]) -> dict[str, list[int]]:
    """Plant ids per time zone (nearly always one zone)."""
    zones: dict[str, list[int]] = defaultdict(list)
    for plant in plants:
        zones[plant.timezone].append(plant.pk)
    return dict(zones)


def _local(trunc, field_name: str, zones: dict[str, list[int]], *, plant_field: str):
    """`field_name` truncated (TruncDate / TruncTime) in the time zone of each row's plant."""
    output = DateField() if trunc is TruncDate else TimeField()
    if len(zones) == 1:
        return trunc(field_name, tzinfo=ZoneInfo(next(iter(zones))))
    return Case(
        *[
            When(**{f"{plant_field}__in": ids}, then=trunc(field_name, tzinfo=ZoneInfo(zone)))
            for zone, ids in zones.items()
        ],
        output_field=output,
    )


def _local_days(
    field_name: str, first: Date, last: Date, zones: dict[str, list[int]], *, plant_field: str
) -> Q:
    """`field_name` within the local days first…last of each row's plant (an index range per zone)."""
    cond = Q(pk__in=[])
    for zone, ids in zones.items():
        tz = ZoneInfo(zone)
        start = datetime.combine(first, time.min, tzinfo=tz)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
        cond |= Q(**{f"{plant_field}__in": ids, f"{field_name}__gte": start, f"{field_name}__lt": end})
    return cond


# --- loads ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DayLoads:
    by_status: list[Figure]
    by_plant: list[Figure]
    per_truck: list[Figure]
    on_time: OnTime


def _day_loads(loads: QuerySet[Job], plants: list[Plant], zones: dict[str, list[int]]) -> _DayLoads:
    """The day's loads in one pass: counted per (status, plant, truck), with the delivered ones
    early or late; every figure of the loads is a sum over these few groups."""
    delivered = Q(status=JobStatus.DELIVERED, delivered_at__isnull=False)
    early, late = _early_late(zones)
    rows = (
        loads.annotate(
            local_day=_local(TruncDate, "delivered_at", zones, plant_field="plant_id"),
            local_time=_local(TruncTime, "delivered_at", zones, plant_field="plant_id"),
        )
        .values("status", "plant_id", "tour__truck__code")
        .annotate(
            n=Count("id"),
            early=Count("id", filter=delivered & early),
            late=Count("id", filter=delivered & late),
        )
        .order_by()
    )
    statuses: dict[str, int] = defaultdict(int)
    per_plant: dict[int, int] = defaultdict(int)
    per_truck: dict[str, int] = defaultdict(int)
    early_n = late_n = 0
    for row in rows:
        statuses[row["status"]] += row["n"]
        per_plant[row["plant_id"]] += row["n"]
        per_truck[row["tour__truck__code"] or ""] += row["n"]
        early_n += row["early"]
        late_n += row["late"]
    delivered_n = statuses[JobStatus.DELIVERED]
    return _DayLoads(
        by_status=[Figure(status.value, str(status.label), statuses[status.value]) for status in JobStatus],
        by_plant=[Figure(plant.code, str(plant), per_plant[plant.pk]) for plant in plants],
        # Most loads first; loads on no tour yet count as truck "".
        per_truck=[
            Figure(code, code, n)
            for code, n in sorted(per_truck.items(), key=lambda item: (-item[1], item[0] == "", item[0]))
        ],
        on_time=OnTime(delivered_n, delivered_n - early_n - late_n, early_n, late_n),
    )


def _early_late(zones: dict[str, list[int]]) -> tuple[Q, Q]:
    """Delivered (local day and time of `delivered_at`, annotated) before or after the order's window."""
    on_the_day = Q(local_day=F("order__requested_date"))
    before_window = Q(order__window_from__isnull=False, local_time__lt=F("order__window_from"))
    after_window = Q(order__window_to__isnull=False, local_time__gt=F("order__window_to"))
    return (
        Q(local_day__lt=F("order__requested_date")) | (on_the_day & before_window),
        Q(local_day__gt=F("order__requested_date")) | (on_the_day & after_window),
    )


# --- m³ per plant per day -------------------------------------------------------------------------


def _volume(day: Date, plants: list[Plant], zones: dict[str, list[int]]) -> Volume:
    """The loads' m³ (`Job.delivered_m3`, the sum of their m³ lines) per plant and local delivery day:
    an index-only range over the deliveries of the 30 days, the lines are not read."""
    first = day - timedelta(days=VOLUME_DAYS - 1)
    days = [first + timedelta(days=i) for i in range(VOLUME_DAYS)]
    if not zones:
        return Volume(days, plants, {})
    rows = (
        Job.objects.filter(
            _local_days("delivered_at", first, day, zones, plant_field="plant_id"),
            type=JobType.DELIVERY,
            delivered_m3__gt=0,
        )
        .annotate(local_day=_local(TruncDate, "delivered_at", zones, plant_field="plant_id"))
        .values("plant_id", "local_day")
        .annotate(m3=Sum("delivered_m3"))
        .order_by()
    )
    return Volume(days, plants, {(row["plant_id"], row["local_day"]): row["m3"] for row in rows})


# --- call-backs -----------------------------------------------------------------------------------


def _callbacks(day: Date, plant: Plant | None, now: datetime) -> CallbackSla:
    minutes = settings.OMS_CALLBACK_SLA_MINUTES
    sla = timedelta(minutes=minutes)
    zone = ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE)
    calls = CallRequest.objects.filter(
        kind=CallRequest.Kind.CALLBACK,
        created_at__gte=datetime.combine(day, time.min, tzinfo=zone),
        created_at__lt=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
    )
    if plant is not None:
        calls = calls.filter(Q(order__plant=plant) | Q(order__isnull=True, job__plant=plant))
    deadline = F("created_at") + sla
    counts = calls.aggregate(
        in_time=Count("id", filter=Q(started_at__lte=deadline)),
        late=Count("id", filter=Q(started_at__gt=deadline)),
        overdue=Count("id", filter=Q(started_at__isnull=True, created_at__lt=now - sla)),
        waiting=Count("id", filter=Q(started_at__isnull=True, created_at__gte=now - sla)),
    )
    return CallbackSla(minutes=minutes, **counts)


# --- ERP backlog ----------------------------------------------------------------------------------


def _backlog_window(day: Date, now: datetime) -> tuple[datetime, datetime]:
    """The last 24 hours when `day` is today in the display time zone, else that whole day."""
    zone = ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE)
    start = datetime.combine(day, time.min, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
    if start <= now < end:
        return now - timedelta(hours=BACKLOG_HOURS), now
    return start, end


def _age_minutes(at: datetime, oldest: datetime | None) -> int | None:
    return None if oldest is None else max(0, int((at - oldest).total_seconds() // 60))


def _backlog(since: datetime, until: datetime, now: datetime) -> list[BacklogPoint]:
    """The samples of the window, and the live figure when the window ends now."""
    points = [
        BacklogPoint(s.at, s.waiting, _age_minutes(s.at, s.oldest_created_at))
        for s in outbox_samples(since=since, until=until)
    ]
    if until == now:
        waiting, oldest = outbox_waiting()
        points.append(BacklogPoint(now, waiting, _age_minutes(now, oldest)))
    return points
