"""Position ingestion: 1..1000 per call, invalid points skipped by index, truck cache, scoping."""

from datetime import timedelta

import pytest
from django.utils import timezone

from fleet.models import PositionReport, Tour
from fleet.selectors import driver_today
from fleet.services import tour_plan, tour_release
from oms.lib.actors import Actor
from tests import factories as f
from tests.helpers import driver_client

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")


@pytest.fixture
def on_tour(plant, truck, driver):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    return tour_release(tour=tour, actor=DISPATCH)


def points(n, start=None):
    start = start or timezone.now() - timedelta(minutes=30)
    return [
        {"at": (start + timedelta(seconds=i)).isoformat(), "lat": 42.7, "lon": 23.3, "speed": 30}
        for i in range(n)
    ]


def post(client, body):
    return client.post("/api/v1/driver/positions/", body, format="json")


@pytest.mark.django_db
def test_invalid_points_are_skipped_and_reported_by_index(on_tour, driver, truck):
    batch = points(5)
    batch[1]["lat"] = 95
    batch[3] = {"at": "yesterday", "lon": "x", "lat": 1, "heading": 400}
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": batch})
    assert response.status_code == 202
    assert response.json() == {
        "accepted": 3,
        "rejected": [
            {"index": 1, "errors": {"lat": ["Expected a number between -90 and 90."]}},
            {
                "index": 3,
                "errors": {
                    "at": ["Expected an ISO 8601 time with offset."],
                    "lon": ["Expected a number between -180 and 180."],
                    "heading": ["Expected a number between 0 and 360."],
                },
            },
        ],
    }
    assert PositionReport.objects.count() == 3
    truck.refresh_from_db()
    assert truck.last_position_at.isoformat() == batch[4]["at"]


@pytest.mark.django_db
def test_more_than_1000_is_400_and_nothing_stored(on_tour, driver):
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": points(1001)})
    assert response.status_code == 400
    assert response.json()["errors"] == {"positions": ["At most 1000 positions per call."]}
    assert PositionReport.objects.count() == 0


@pytest.mark.django_db
def test_empty_batch_is_400(on_tour, driver):
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": []})
    assert response.status_code == 400
    assert PositionReport.objects.count() == 0


@pytest.mark.django_db
def test_1000_points_are_stored(on_tour, driver):
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": points(1000)})
    assert (response.status_code, response.json()["accepted"]) == (202, 1000)
    assert PositionReport.objects.count() == 1000


@pytest.mark.django_db
def test_truck_not_on_the_drivers_tour_today_is_404(on_tour, driver, plant):
    other = f.TruckFactory(plant=plant, code="TRK-99")
    response = post(driver_client(driver), {"truck": other.code, "positions": points(2)})
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert PositionReport.objects.count() == 0


@pytest.mark.django_db
def test_truck_of_another_driver_is_404(on_tour, plant):
    stranger = f.DriverFactory(plant=plant)
    response = post(driver_client(stranger), {"truck": "TRK-07", "positions": points(2)})
    assert response.status_code == 404
    assert PositionReport.objects.count() == 0


@pytest.mark.django_db
def test_older_batch_does_not_move_the_cached_position_back(on_tour, driver, truck):
    client = driver_client(driver)
    now = timezone.now()
    post(client, {"truck": "TRK-07", "positions": [{"at": now.isoformat(), "lat": 42.0, "lon": 23.0}]})
    old = now - timedelta(minutes=10)
    post(client, {"truck": "TRK-07", "positions": [{"at": old.isoformat(), "lat": 41.0, "lon": 22.0}]})
    truck.refresh_from_db()
    assert (truck.last_lat, truck.last_lon, truck.last_position_at) == (42.0, 23.0, now)
    assert PositionReport.objects.count() == 2


@pytest.mark.django_db
def test_idempotency_key_replays_positions(on_tour, driver):
    client = driver_client(driver)
    body = {"truck": "TRK-07", "positions": points(3)}
    first = client.post("/api/v1/driver/positions/", body, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    again = client.post("/api/v1/driver/positions/", body, format="json", HTTP_IDEMPOTENCY_KEY="p-1")
    assert (first.status_code, again.status_code, again.headers["Idempotent-Replayed"]) == (202, 202, "true")
    assert PositionReport.objects.count() == 3


@pytest.mark.django_db
def test_planned_tour_is_not_visible(plant, truck, driver):
    tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": points(1)})
    assert response.status_code == 404
    assert Tour.objects.get().status == "planned"


@pytest.mark.django_db
def test_a_batch_over_the_body_limit_is_a_413_problem(on_tour, driver, truck, settings):
    """Django's DATA_UPLOAD_MAX_MEMORY_SIZE, answered as a problem (413), not an HTML 400."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 50_000
    response = post(driver_client(driver), {"truck": "TRK-07", "positions": points(1000)})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert response.json()["detail"] == "The request body is over 50000 bytes."
    assert PositionReport.objects.count() == 0
    assert post(driver_client(driver), {"truck": "TRK-07", "positions": points(200)}).status_code == 202
    assert PositionReport.objects.count() == 200
