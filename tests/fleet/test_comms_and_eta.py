"""Messages and call requests from the driver; the ETA model and the learned plant speed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from fleet.eta import compute_etas, haversine_km, plant_speed_learn
from fleet.models import CallRequest, Message
from fleet.selectors import driver_today
from fleet.services import job_assign, order_split_into_jobs, tour_plan, tour_release
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import OrderEvent
from tests import factories as f
from tests.helpers import driver_client

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")


@pytest.fixture
def assigned(order, plant, truck, driver):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    OutboxMessage.objects.all().delete()
    return tour, job


@pytest.mark.django_db
def test_driver_message_about_a_job_goes_to_the_order_thread_and_the_erp(assigned, driver, order):
    _, job = assigned
    response = driver_client(driver).post(
        "/api/v1/driver/messages/", {"job": str(job.public_id), "body": "Gate is closed"}, format="json"
    )
    assert response.status_code == 201
    message = Message.objects.get()
    assert (message.order_id, message.job_id, message.sender_role, message.sender) == (
        order.pk,
        job.pk,
        "driver",
        "DRV-01",
    )
    outbox = OutboxMessage.objects.get()
    assert (outbox.type, outbox.aggregate_type, outbox.aggregate_id) == ("message", "order", order.number)
    assert outbox.payload == {
        "id": str(message.public_id),
        "thread": {"order": order.number, "job": job.ticket},
        "from": "driver:DRV-01",
        "body": "Gate is closed",
        "at": message.at.isoformat(),
    }
    assert OrderEvent.objects.filter(type="message.posted").count() == 1


@pytest.mark.django_db
def test_message_about_someone_elses_order_is_404(assigned, plant):
    other = f.OrderFactory(plant=plant)
    stranger = driver_client(f.DriverFactory(plant=plant))
    response = stranger.post("/api/v1/driver/messages/", {"order": other.number, "body": "hi"}, format="json")
    assert response.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_body_over_2000_chars_is_400(assigned, driver):
    response = driver_client(driver).post("/api/v1/driver/messages/", {"body": "x" * 2001}, format="json")
    assert response.status_code == 400
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_call_request_from_the_driver(assigned, driver, order):
    _, job = assigned
    response = driver_client(driver).post(
        "/api/v1/driver/call-requests/",
        {"job": str(job.public_id), "reason": "Customer not on site"},
        format="json",
    )
    assert response.status_code == 201
    call = CallRequest.objects.get()
    assert (call.kind, call.status, call.order_id, call.customer_id, call.phone) == (
        "callback",
        "open",
        order.pk,
        order.customer_id,
        "+359888000111",
    )
    assert call.due_at - call.created_at == timedelta(minutes=15)
    outbox = OutboxMessage.objects.get()
    assert (outbox.type, outbox.payload) == (
        "call.request",
        {
            "id": str(call.public_id),
            "order": order.number,
            "job": job.ticket,
            "kind": "callback",
            "reason": "Customer not on site",
            "phone": "+359888000111",
            "status": "open",
        },
    )


def test_haversine_sofia_to_plovdiv():
    assert round(haversine_km(42.6977, 23.3219, 42.1354, 24.7453), 1) == 132.5


@pytest.mark.django_db
def test_eta_from_the_truck_position_through_the_remaining_stops(plant_factory):
    plant = plant_factory(lat=42.70, lon=23.30)
    plant.avg_speed_kmh = Decimal("52.0")
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    order = f.OrderFactory(plant=plant, address={"name": "A", "address": "x", "lat": 42.8, "lon": 23.3})
    first = f.JobFactory(plant=plant, order=order, status="en_route", sequence=1)
    second = f.JobFactory(plant=plant, order=order, status="assigned", sequence=2)
    etas = compute_etas(start=(42.75, 23.3), start_at=start, plant=plant, jobs=[first, second])
    leg1 = haversine_km(42.75, 23.3, 42.8, 23.3) * 1.3 / 52
    back = haversine_km(42.8, 23.3, 42.70, 23.30) * 1.3 / 52
    out = haversine_km(42.70, 23.30, 42.8, 23.3) * 1.3 / 52
    assert etas[first.pk] == start + timedelta(hours=leg1)
    assert etas[second.pk] == start + timedelta(hours=leg1 + back + out, minutes=25 + 15)


@pytest.mark.django_db
def test_plant_speed_is_an_exponential_moving_average(plant_factory):
    plant = plant_factory(lat=42.70, lon=23.30)
    order = f.OrderFactory(plant=plant, address={"name": "A", "address": "x", "lat": 42.8, "lon": 23.3})
    departed = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    km = haversine_km(42.70, 23.30, 42.8, 23.3) * 1.3
    job = f.JobFactory(
        plant=plant, order=order, departed_at=departed, arrived_at=departed + timedelta(hours=km / 60)
    )
    assert plant_speed_learn(job=job) == Decimal("60.0")
    plant.refresh_from_db()
    assert plant.avg_speed_kmh == Decimal("44.0")  # 0.8 × 40 + 0.2 × 60


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["", "   ", "x" * 2001])
def test_message_service_refuses_an_empty_or_too_long_body(assigned, order, body):
    from fleet.services import message_post
    from fleet.services.comms import MESSAGE_INVALID
    from oms.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        message_post(sender_role="rep", sender="rep@oms.example", body=body, actor=DISPATCH, order=order)

    assert raised.value.errors == {"body": [MESSAGE_INVALID]}
    assert Message.objects.count() == 0
    assert OutboxMessage.objects.count() == 0
    assert OrderEvent.objects.filter(type="message.posted").count() == 0
