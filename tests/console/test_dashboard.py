"""The console dashboard: every figure of a small known day, exactly; who may see it; its filters."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from console.selectors import dashboard
from console.selectors.dashboard import BacklogPoint, Figure
from erp_sync.models import OutboxSample
from erp_sync.services import outbox_sample_take
from fleet.models import CallRequest, JobStatus, JobType, SenderRole
from oms.models import OutboxMessage, OutboxStatus
from tests import factories
from tests.console.conftest import client_for, make_user

SOFIA = ZoneInfo("Europe/Sofia")
LONDON = ZoneInfo("Europe/London")
DAY = date(2026, 3, 10)  # Sofia is UTC+2, London UTC+0 that day
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=SOFIA)
URL = "admin:console-dashboard"


def at(day: date, hh: int, mm: int = 0, zone: ZoneInfo = SOFIA) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=zone)


@pytest.fixture(autouse=True)
def sla(settings):
    settings.OMS_CALLBACK_SLA_MINUTES = 15
    settings.OMS_DISPLAY_TIME_ZONE = "Europe/Sofia"


@pytest.fixture
def day(db):
    """Two plants in two time zones, three trucks, nine loads, five call requests, outbox samples.

    SOF1 (Sofia), orders of DAY with the window 08:00–12:00:
      TRK-A: delivered 09:30 (on time, 8 m³), delivered 12:30 (late, 6.5 m³), failed
      TRK-B: delivered 07:45 (early, 7 m³ and 3 t), en route
      no tour: planned
      and a load of the day before, delivered then (5 m³), and one of 40 days before (9 m³)
    LON1 (London), an order of DAY without a window:
      TRK-C: delivered 23:30 London time (on time: still DAY in London; 4 m³), cancelled
      and a homerun, which is no load
    """
    sof = factories.PlantFactory(code="SOF1", name="Sofia North", timezone="Europe/Sofia")
    lon = factories.PlantFactory(code="LON1", name="London Docks", timezone="Europe/London")
    factories.PlantFactory(code="OLD1", name="Closed plant", active=False)
    concrete = factories.ProductFactory(sku="C25", unit="m3", stocked=False)
    gravel = factories.ProductFactory(sku="GRAVEL", unit="t")
    trucks = {
        code: factories.TourFactory(plant=plant, date=DAY, truck__code=code)
        for code, plant in (("TRK-A", sof), ("TRK-B", sof), ("TRK-C", lon))
    }

    def load(plant, status, *, tour=None, delivered_at=None, m3=None, t=None, requested=DAY, window=True):
        order = factories.OrderFactory(
            plant=plant,
            requested_date=requested,
            window_from=time(8) if window else None,
            window_to=time(12) if window else None,
        )
        job = factories.JobFactory(
            plant=plant, order=order, status=status, delivered_at=delivered_at, tour=trucks.get(tour)
        )
        for product, quantity in ((concrete, m3), (gravel, t)):
            if quantity:
                line = factories.OrderLineFactory(order=order, product=product, quantity=Decimal(quantity))
                factories.JobLineFactory(job=job, order_line=line, delivered=Decimal(quantity))
        return order

    delivered = JobStatus.DELIVERED
    sof_order = load(sof, delivered, tour="TRK-A", delivered_at=at(DAY, 9, 30), m3="8")
    load(sof, delivered, tour="TRK-A", delivered_at=at(DAY, 12, 30), m3="6.5")
    load(sof, JobStatus.FAILED, tour="TRK-A", m3="8")
    load(sof, delivered, tour="TRK-B", delivered_at=at(DAY, 7, 45), m3="7", t="3")
    load(sof, JobStatus.EN_ROUTE, tour="TRK-B", m3="8")
    load(sof, JobStatus.PLANNED, m3="8")
    yesterday = DAY - timedelta(days=1)
    load(sof, delivered, tour="TRK-A", delivered_at=at(yesterday, 10), m3="5", requested=yesterday)
    long_ago = DAY - timedelta(days=40)
    load(sof, delivered, delivered_at=at(long_ago, 10), m3="9", requested=long_ago)
    lon_order = load(lon, delivered, tour="TRK-C", delivered_at=at(DAY, 23, 30, LONDON), m3="4", window=False)
    load(lon, JobStatus.CANCELLED, tour="TRK-C", m3="4", window=False)
    factories.JobFactory(plant=lon, type=JobType.HOMERUN, tour=trucks["TRK-C"], status=delivered)

    def call(created, started=None, *, order=sof_order, kind=CallRequest.Kind.CALLBACK):
        CallRequest.objects.create(
            kind=kind,
            order=order,
            requested_by_role=SenderRole.CUSTOMER,
            reason="Call me",
            created_at=created,
            due_at=created + timedelta(minutes=15),
            started_at=started,
        )

    call(at(DAY, 9), at(DAY, 9, 10))  # in time
    call(at(DAY, 9), at(DAY, 9, 20), order=lon_order)  # late
    call(at(DAY, 11))  # waiting past the SLA at noon
    call(at(DAY, 11, 50))  # waiting, within the SLA until 12:05
    call(at(DAY, 10), kind=CallRequest.Kind.CALL_OFF)  # a call-off is no call-back
    call(at(yesterday, 11))  # another day

    OutboxSample.objects.create(
        at=NOW - timedelta(hours=25), waiting=9, oldest_created_at=NOW - timedelta(hours=26)
    )
    OutboxSample.objects.create(
        at=NOW - timedelta(hours=20), waiting=3, oldest_created_at=NOW - timedelta(hours=21)
    )
    OutboxSample.objects.create(at=NOW - timedelta(hours=1), waiting=0, oldest_created_at=None)
    for status, minutes in (
        (OutboxStatus.PENDING, 30),
        (OutboxStatus.FAILED, 10),
        (OutboxStatus.SENT, 90),
        (OutboxStatus.DEAD, 120),
    ):
        OutboxMessage.objects.create(
            type="order.created",
            aggregate_type="order",
            aggregate_id=f"ORD-{status}",
            sequence=1,
            payload={},
            status=status,
            next_attempt_at=NOW,
            created_at=NOW - timedelta(minutes=minutes),
        )
    return {"sof": sof, "lon": lon}


def statuses(**counts) -> list[Figure]:
    return [Figure(s.value, str(s.label), counts.get(s.value, 0)) for s in JobStatus]


def test_every_figure_of_the_day(day):
    dash = dashboard(day=DAY, now=NOW)

    assert [p.code for p in dash.plants] == ["LON1", "SOF1"]
    assert dash.loads_by_status == statuses(planned=1, en_route=1, delivered=4, failed=1, cancelled=1)
    assert dash.loads_total == 8
    assert dash.loads_by_plant == [
        Figure("LON1", "LON1 London Docks", 2),
        Figure("SOF1", "SOF1 Sofia North", 6),
    ]
    assert dash.loads_per_truck == [
        Figure("TRK-A", "TRK-A", 3),
        Figure("TRK-B", "TRK-B", 2),
        Figure("TRK-C", "TRK-C", 2),
        Figure("", "", 1),
    ]
    on_time = dash.on_time
    assert (on_time.delivered, on_time.on_time, on_time.early, on_time.late) == (4, 2, 1, 1)
    assert on_time.rate == Decimal("50.0")

    volume = dash.volume
    assert volume.days[0] == DAY - timedelta(days=29)
    assert volume.days[-1] == DAY
    assert len(volume.days) == 30
    assert volume.m3 == {
        (day["sof"].pk, DAY): Decimal("21.500"),
        (day["sof"].pk, DAY - timedelta(days=1)): Decimal("5.000"),
        (day["lon"].pk, DAY): Decimal("4.000"),
    }
    assert volume.rows[-1] == (DAY, [Decimal("4.000"), Decimal("21.500")], Decimal("25.500"))
    assert volume.rows[-2] == (
        DAY - timedelta(days=1),
        [Decimal("0.000"), Decimal("5.000")],
        Decimal("5.000"),
    )
    assert sum(total for _day, _values, total in volume.rows) == Decimal("30.500")

    calls = dash.callbacks
    assert (calls.minutes, calls.in_time, calls.late, calls.overdue, calls.waiting) == (15, 1, 1, 1, 1)
    assert calls.requested == 4
    assert calls.rate == Decimal("33.3")

    assert (dash.backlog_since, dash.backlog_until) == (NOW - timedelta(hours=24), NOW)
    assert dash.backlog == [
        BacklogPoint(NOW - timedelta(hours=20), 3, 60),
        BacklogPoint(NOW - timedelta(hours=1), 0, None),
        BacklogPoint(NOW, 2, 30),
    ]


def test_one_plant(day):
    dash = dashboard(day=DAY, plant=day["sof"], now=NOW)

    assert dash.loads_by_status == statuses(planned=1, en_route=1, delivered=3, failed=1)
    assert dash.loads_by_plant == [Figure("SOF1", "SOF1 Sofia North", 6)]
    assert dash.loads_per_truck == [
        Figure("TRK-A", "TRK-A", 3),
        Figure("TRK-B", "TRK-B", 2),
        Figure("", "", 1),
    ]
    assert (dash.on_time.delivered, dash.on_time.on_time, dash.on_time.early, dash.on_time.late) == (
        3,
        1,
        1,
        1,
    )
    assert dash.on_time.rate == Decimal("33.3")
    assert dash.volume.m3 == {
        (day["sof"].pk, DAY): Decimal("21.500"),
        (day["sof"].pk, DAY - timedelta(days=1)): Decimal("5.000"),
    }
    # The late call-back was about the London order.
    calls = dash.callbacks
    assert (calls.in_time, calls.late, calls.overdue, calls.waiting) == (1, 0, 1, 1)
    assert calls.rate == Decimal("50.0")


def test_a_past_day_shows_that_whole_day_of_samples_without_the_live_figure(day):
    yesterday = DAY - timedelta(days=1)
    dash = dashboard(day=yesterday, now=NOW)

    assert (dash.backlog_since, dash.backlog_until) == (at(yesterday, 0), at(DAY, 0))
    assert dash.backlog == [
        BacklogPoint(NOW - timedelta(hours=25), 9, 60),
        BacklogPoint(NOW - timedelta(hours=20), 3, 60),
    ]
    assert dash.loads_total == 1
    assert dash.on_time.rate == Decimal("100.0")
    # Yesterday's only call-back has not been started: overdue.
    assert (dash.callbacks.requested, dash.callbacks.overdue, dash.callbacks.rate) == (1, 1, Decimal("0.0"))


def test_an_empty_day_has_no_rates(db):
    factories.PlantFactory(code="SOF1")
    dash = dashboard(day=DAY, now=NOW)

    assert dash.loads_total == 0
    assert dash.on_time.rate is None
    assert dash.callbacks.rate is None
    assert dash.backlog == [BacklogPoint(NOW, 0, None)]
    assert all(total == 0 for _day, _values, total in dash.volume.rows)


def test_the_outbox_sample_is_taken_once_per_five_minute_slot_and_kept_eight_days(db):
    OutboxSample.objects.create(at=NOW - timedelta(days=9), waiting=1)
    OutboxSample.objects.create(at=NOW - timedelta(days=7), waiting=1)
    OutboxMessage.objects.create(
        type="order.created",
        aggregate_type="order",
        aggregate_id="ORD-1",
        sequence=1,
        payload={},
        next_attempt_at=NOW,
        created_at=NOW - timedelta(minutes=7),
    )

    assert outbox_sample_take(now=NOW + timedelta(minutes=2)) is True
    assert outbox_sample_take(now=NOW + timedelta(minutes=4, seconds=59)) is False

    assert list(OutboxSample.objects.values_list("at", "waiting", "oldest_created_at")) == [
        (NOW - timedelta(days=7), 1, None),
        (NOW, 1, NOW - timedelta(minutes=7)),
    ]


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["rep", "dispatcher", "admin"])
def test_staff_roles_see_the_dashboard(day, role):
    response = client_for(make_user(role)).get(reverse(URL), {"date": DAY.isoformat()})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Picture of the day</h1>" in html
    assert 'id="dashboard-day">03/10/2026 · LON1 London Docks, SOF1 Sofia North</p>' in html
    assert "<strong>8</strong> loads" in html
    assert "<strong>50.0 %</strong> of 4 delivered loads" in html
    assert (
        '<th scope="row">03/10/2026</th><td class="num">4</td><td class="num">21.5</td><td class="num">25.5</td>'
        in html
    )
    assert 'role="img" aria-labelledby="chart-status-title"' in html
    assert (
        "Loads by status: Planned 1; Assigned 0; Loading 0; Loaded 0; En route 1; Arrived 0; Unloading 0; Delivered 4; Failed 1; Cancelled 1</title>"
        in html
    )


def test_the_dashboard_in_bulgarian(day, rep_client):
    response = rep_client.get(
        reverse(URL), {"date": DAY.isoformat(), "plant": day["sof"].pk}, headers={"accept-language": "bg"}
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dashboard-day">10.03.2026 · SOF1 Sofia North</p>' in html
    assert "<strong>33,3 %</strong>" in html
    assert '<th scope="row">10.03.2026</th><td class="num">21,5</td><td class="num">21,5</td>' in html


@pytest.mark.parametrize("role", ["customer", "anonymous", "staff_without_role"])
def test_others_are_refused(day, role):
    if role == "anonymous":
        response = Client().get(reverse(URL))
    else:
        user = make_user("customer", "carl", staff=False) if role == "customer" else make_user(None, "sam")
        response = client_for(user).get(reverse(URL))

    if role == "staff_without_role":
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("query", [{"date": "2026-13-45"}, {"plant": "999999"}, {"date": "yesterday"}])
def test_bad_filters_are_a_400_with_the_error(day, rep_client, query):
    response = rep_client.get(reverse(URL), query)

    assert response.status_code == 400
    assert 'id="dashboard-errors"' in response.content.decode()


def test_without_a_date_the_day_is_today_at_the_first_plant(day, rep_client):
    response = rep_client.get(reverse(URL))

    assert response.status_code == 200
    today = timezone.now().astimezone(LONDON).date()
    assert response.context["dash"].day == today
