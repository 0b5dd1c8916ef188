"""The driver's message inbox: GET /driver/messages/ and POST /driver/messages/{id}/read/, the
console's messages "to the driver", the portal's customer messages and `driver_notify`."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from fleet import selectors
from fleet.api import serializers
from fleet.models import Message, SenderRole
from fleet.selectors import driver_today
from fleet.services import (
    driver_notify,
    job_assign,
    job_status_apply,
    message_driver_read,
    message_post,
    order_split_into_jobs,
    tour_plan,
    tour_release,
)
from oms import roles
from oms.lib.actors import Actor
from oms.models import IdempotencyRecord, OutboxMessage
from orders.models import OrderEvent
from portal.services import order_message_post
from tests import factories as f
from tests.factories import UserFactory
from tests.helpers import driver_client

DISPATCH = Actor(kind="user", name="dan")
INBOX = "/api/v1/driver/messages/"


def read_url(message) -> str:
    return f"/api/v1/driver/messages/{message.public_id}/read/"


def z(at: datetime) -> str:
    """A time as the inbox answers it: UTC, `Z`."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def set_at(message: Message, at: datetime) -> datetime:
    Message.objects.filter(pk=message.pk).update(at=at)
    return at


def plan(*, plant, truck, driver, order, release=True):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    if release:
        tour_release(tour=tour, actor=DISPATCH)
    tour.refresh_from_db()
    job.refresh_from_db()
    return tour, job


@pytest.fixture
def assigned(order, plant, truck, driver):
    return plan(plant=plant, truck=truck, driver=driver, order=order)


@pytest.fixture
def other(plant, product):
    """Another driver with a released tour of their own, and a message addressed to them."""
    driver = f.DriverFactory(code="DRV-02", name="Petar Other", plant=plant)
    order = f.OrderFactory(plant=plant)
    f.add_line(order, product, "4.000")
    truck = f.TruckFactory(code="TRK-08", plant=plant)
    tour, job = plan(plant=plant, truck=truck, driver=driver, order=order)
    message = message_post(
        sender_role=SenderRole.DISPATCHER,
        sender="dan",
        body="For Petar",
        actor=DISPATCH,
        job=job,
        to_driver=True,
    )
    return driver, tour, job, message


def staff_client(role: str, username: str) -> Client:
    user = UserFactory(username=username, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_inbox_lists_the_messages_to_and_from_the_driver_oldest_first(assigned, driver, order):
    tour, job = assigned
    client = driver_client(driver)
    now = timezone.now().replace(microsecond=0)
    response = client.post(INBOX, {"job": str(job.public_id), "body": "Gate is closed"}, format="json")
    own = Message.objects.get(public_id=response.json()["id"])
    to_driver = message_post(
        sender_role=SenderRole.REP, sender="rita", body="Code 1234", actor=DISPATCH, job=job, to_driver=True
    )
    about_tour = message_post(
        sender_role=SenderRole.DISPATCHER,
        sender="dan",
        body="Fuel at SOF1",
        actor=DISPATCH,
        tour=tour,
        to_driver=True,
    )
    notice = driver_notify(job=job, body="Window moved to 10:00", actor=DISPATCH)
    # Not for the driver: the rep's answer to the customer and the customer's own message.
    message_post(sender_role=SenderRole.REP, sender="rita", body="Truck at 10", actor=DISPATCH, order=order)
    order_message_post(order=order, body="Where is my truck?", actor=Actor(kind="customer", name="ivan@x.bg"))
    t1 = set_at(own, now - timedelta(hours=4))
    t2 = set_at(to_driver, now - timedelta(hours=3))
    t3 = set_at(about_tour, now - timedelta(hours=2))
    t4 = set_at(notice, now - timedelta(hours=1))

    response = client.get(INBOX)

    assert response.status_code == 200
    assert response.json() == [
        {
            "id": str(own.public_id),
            "at": z(t1),
            "from": {"kind": "driver", "name": "Georgi Ivanov"},
            "order": order.number,
            "job": str(job.public_id),
            "tour": tour.number,
            "body": "Gate is closed",
            "read_at": z(own.at),  # a driver has read what they wrote
        },
        {
            "id": str(to_driver.public_id),
            "at": z(t2),
            "from": {"kind": "rep", "name": "rita"},
            "order": order.number,
            "job": str(job.public_id),
            "tour": tour.number,
            "body": "Code 1234",
            "read_at": None,
        },
        {
            "id": str(about_tour.public_id),
            "at": z(t3),
            "from": {"kind": "dispatcher", "name": "dan"},
            "order": None,
            "job": None,
            "tour": tour.number,
            "body": "Fuel at SOF1",
            "read_at": None,
        },
        {
            "id": str(notice.public_id),
            "at": z(t4),
            "from": {"kind": "system", "name": "dan"},
            "order": order.number,
            "job": str(job.public_id),
            "tour": tour.number,
            "body": "Window moved to 10:00",
            "read_at": None,
        },
    ]


@pytest.mark.django_db
def test_the_list_is_one_query(assigned, driver, django_assert_num_queries):
    tour, job = assigned
    for body in ("one", "two", "three"):
        message_post(
            sender_role=SenderRole.REP, sender="rita", body=body, actor=DISPATCH, job=job, to_driver=True
        )
    message_post(
        sender_role=SenderRole.DRIVER, sender=driver.code, body="four", actor=DISPATCH, driver=driver
    )

    with django_assert_num_queries(1):
        documents = [serializers.message_document(m) for m in selectors.driver_messages(driver=driver)]

    assert [(d["body"], d["tour"]) for d in documents] == [
        ("one", tour.number),
        ("two", tour.number),
        ("three", tour.number),
        ("four", None),
    ]


@pytest.mark.django_db
def test_read_marks_the_message_read_once_and_answers_the_message(assigned, driver):
    _, job = assigned
    message = message_post(
        sender_role=SenderRole.REP, sender="rita", body="Code 1234", actor=DISPATCH, job=job, to_driver=True
    )
    client = driver_client(driver)

    before = timezone.now()
    first = client.post(read_url(message))
    message.refresh_from_db()
    read_at = message.read_by_driver_at
    second = client.post(read_url(message))
    message.refresh_from_db()

    assert first.status_code == second.status_code == 200
    # Read once: the first read's time, kept by the second.
    assert before <= read_at <= timezone.now()
    assert message.read_by_driver_at == read_at
    assert message.read_at is None  # the staff's "handled" mark is another thing
    assert (
        first.json()
        == second.json()
        == {
            "id": str(message.public_id),
            "at": z(message.at),
            "from": {"kind": "rep", "name": "rita"},
            "order": job.order.number,
            "job": str(job.public_id),
            "tour": job.tour.number,
            "body": "Code 1234",
            "read_at": z(message.read_by_driver_at),
        }
    )
    assert client.get(INBOX).json()[0]["read_at"] == z(message.read_by_driver_at)


@pytest.mark.django_db
def test_read_supports_idempotency_key(assigned, driver):
    _, job = assigned
    message = message_post(
        sender_role=SenderRole.REP, sender="rita", body="Code 1234", actor=DISPATCH, job=job, to_driver=True
    )
    client = driver_client(driver)

    first = client.post(read_url(message), HTTP_IDEMPOTENCY_KEY="read-1")
    again = client.post(read_url(message), HTTP_IDEMPOTENCY_KEY="read-1")

    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_another_drivers_message_or_an_unknown_id_is_404_and_nothing_changes(assigned, driver, other):
    _, _, _, theirs = other
    client = driver_client(driver)

    foreign = client.post(read_url(theirs), HTTP_IDEMPOTENCY_KEY="read-foreign")
    unknown = client.post("/api/v1/driver/messages/00000000-0000-4000-8000-000000000000/read/")

    assert (foreign.status_code, foreign.json()["code"]) == (404, "not_found")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    theirs.refresh_from_db()
    assert theirs.read_by_driver_at is None
    assert IdempotencyRecord.objects.count() == 0
    assert client.get(INBOX).json() == []
    # ... while its own driver sees and reads it.
    owner = driver_client(other[0])
    assert [m["body"] for m in owner.get(INBOX).json()] == ["For Petar"]
    assert owner.post(read_url(theirs)).status_code == 200


@pytest.mark.django_db
def test_since_returns_exactly_the_messages_after_it(assigned, driver):
    _, job = assigned
    now = timezone.now().replace(microsecond=0)
    messages = [
        message_post(
            sender_role=SenderRole.REP, sender="rita", body=body, actor=DISPATCH, job=job, to_driver=True
        )
        for body in ("eight days", "six days", "an hour", "a minute")
    ]
    ages = [timedelta(days=8), timedelta(days=6), timedelta(hours=1), timedelta(minutes=1)]
    times = [set_at(message, now - age) for message, age in zip(messages, ages, strict=True)]
    client = driver_client(driver)

    def bodies(**params):
        response = client.get(INBOX, params)
        assert response.status_code == 200, response.json()
        return [m["body"] for m in response.json()]

    assert bodies() == ["six days", "an hour", "a minute"]  # default: the last 7 days
    assert bodies(since=z(times[0] - timedelta(seconds=1))) == [
        "eight days",
        "six days",
        "an hour",
        "a minute",
    ]
    assert bodies(since=z(times[0])) == ["six days", "an hour", "a minute"]  # strictly after
    assert bodies(since=z(times[2])) == ["a minute"]
    assert bodies(since=times[2].astimezone(UTC).isoformat()) == ["a minute"]  # "+00:00", URL-encoded
    sofia = times[2].astimezone(timezone.get_fixed_timezone(120)).isoformat()  # the same instant, +02:00
    assert bodies(since=sofia) == ["a minute"]
    assert bodies(since=z(times[3])) == []


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("since=yesterday", {"since": ["Expected an ISO 8601 time with offset."]}),
        ("since=2026-11-23", {"since": ["Expected an ISO 8601 time with offset."]}),
        ("since=2026-11-23T07:12:00", {"since": ["Expected an ISO 8601 time with offset."]}),
        ("since=2026-13-23T07:12:00Z", {"since": ["Expected an ISO 8601 time with offset."]}),
        ("since=", {"since": ["Expected an ISO 8601 time with offset."]}),
        ("since=2026-11-23T07:12:00Z&since=2026-11-24T07:12:00Z", {"since": ["Give this parameter once."]}),
        ("page=2", {"page": ["Unknown query parameter."]}),
    ],
)
@pytest.mark.django_db
def test_a_bad_query_string_is_400(assigned, driver, query, errors):
    response = driver_client(driver).get(f"{INBOX}?{query}")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert (response.json()["code"], response.json()["errors"]) == ("invalid", errors)


@pytest.mark.django_db
def test_posting_a_message_still_takes_no_query_parameters(assigned, driver):
    response = driver_client(driver).post(
        f"{INBOX}?since=2026-11-23T07:12:00Z", {"body": "hi"}, format="json"
    )

    assert (response.status_code, response.json()["errors"]) == (400, {"since": ["Unknown query parameter."]})
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_consoles_message_to_the_driver_reaches_the_inbox_and_one_to_the_customer_does_not(
    assigned, driver, order
):
    _, job = assigned
    console = staff_client(roles.REP, "rita")
    url = reverse("admin:console-order-message", args=[order.pk])

    console.post(url, {"to": "customer", "body": "Truck at 10:00"})
    console.post(url, {"to": "driver", "body": "Gate code 1234"})

    to_driver = Message.objects.get(body="Gate code 1234")
    assert (to_driver.driver, to_driver.to_driver, to_driver.job) == (driver, True, job)
    assert Message.objects.get(body="Truck at 10:00").driver is None
    inbox = driver_client(driver).get(INBOX).json()
    assert [(m["from"], m["body"], m["job"]) for m in inbox] == [
        ({"kind": "rep", "name": "rita"}, "Gate code 1234", str(job.public_id))
    ]
    # The order page tells the staff whether the driver has read it.
    assert "not read by the driver yet" in console.get(reverse("admin:console-order", args=[order.pk])).text


@pytest.mark.django_db
def test_the_consoles_reply_to_a_driver_goes_to_that_driver(assigned, driver):
    client = driver_client(driver)
    client.post(INBOX, {"body": "Which plant do I load at tomorrow?"}, format="json")
    asked = Message.objects.get()
    console = staff_client(roles.DISPATCHER, "dan")

    console.post(reverse("admin:console-message-reply", args=[asked.pk]), {"body": "SOF1, 7:00"})

    answer = Message.objects.get(body="SOF1, 7:00")
    assert (answer.sender_role, answer.driver, answer.to_driver) == (SenderRole.DISPATCHER, driver, True)
    assert [(m["from"]["kind"], m["body"]) for m in client.get(INBOX).json()] == [
        ("driver", "Which plant do I load at tomorrow?"),
        ("dispatcher", "SOF1, 7:00"),
    ]


@pytest.mark.django_db
def test_a_customers_message_about_an_en_route_job_does_not_go_to_the_driver(assigned, driver, order):
    _, job = assigned
    for status in ("loading", "loaded", "en_route"):
        job_status_apply(job=job, status=status, at=timezone.now(), actor=DISPATCH)

    message = order_message_post(
        order=order, body="Please call me", actor=Actor(kind="customer", name="ivan")
    )

    assert message.driver is None
    assert driver_client(driver).get(INBOX).json() == []


@pytest.mark.django_db
def test_a_drivers_own_message_names_them_and_is_read_from_the_start(assigned, driver):
    _, job = assigned

    response = driver_client(driver).post(INBOX, {"job": str(job.public_id), "body": "Gate"}, format="json")

    message = Message.objects.get(public_id=response.json()["id"])
    assert (message.driver, message.to_driver, message.read_by_driver_at) == (driver, False, message.at)


@pytest.mark.django_db
def test_a_message_to_the_driver_is_addressed_to_the_driver_of_the_jobs_tour(assigned, driver):
    _, job = assigned

    message = message_post(
        sender_role=SenderRole.REP, sender="rita", body="Code 1234", actor=DISPATCH, job=job, to_driver=True
    )

    assert (message.driver, message.to_driver, message.read_by_driver_at) == (driver, True, None)
    assert OutboxMessage.objects.filter(type="message", payload__id=str(message.public_id)).count() == 1


@pytest.mark.django_db
def test_the_drivers_read_mark_is_set_once(assigned):
    _, job = assigned
    message = message_post(
        sender_role=SenderRole.REP, sender="rita", body="Code 1234", actor=DISPATCH, job=job, to_driver=True
    )

    first = message_driver_read(message=message).read_by_driver_at
    second = message_driver_read(message=Message.objects.get(pk=message.pk)).read_by_driver_at

    assert first is not None and second == first
    assert Message.objects.get(pk=message.pk).read_at is None  # the staff's "handled" mark is another thing


@pytest.mark.django_db
def test_driver_notify_writes_a_system_message_to_the_driver_and_nothing_to_the_erp(assigned, driver, order):
    tour, job = assigned
    OutboxMessage.objects.all().delete()
    events = OrderEvent.objects.count()

    message = driver_notify(job=job, body="Job cancelled by the customer", actor=Actor.system())
    by_tour = driver_notify(tour=tour, body="Tour starts at 06:30", actor=DISPATCH)

    assert (
        message.sender_role,
        message.sender,
        message.driver,
        message.order,
        message.tour,
        message.job,
    ) == (
        SenderRole.SYSTEM,
        "system",
        driver,
        order,
        tour,
        job,
    )
    assert (by_tour.driver, by_tour.order, by_tour.tour, by_tour.job) == (driver, None, tour, None)
    assert not OutboxMessage.objects.exists()
    assert OrderEvent.objects.count() == events
    assert [(m["id"], m["from"], m["job"], m["tour"]) for m in driver_client(driver).get(INBOX).json()] == [
        (str(message.public_id), {"kind": "system", "name": "system"}, str(job.public_id), tour.number),
        (str(by_tour.public_id), {"kind": "system", "name": "dan"}, None, tour.number),
    ]


@pytest.mark.django_db
def test_driver_notify_without_a_driver_writes_nothing(plant, order):
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)  # not on a tour yet

    assert driver_notify(job=job, body="Changed", actor=DISPATCH) is None
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_the_driver_sees_only_messages_of_tours_released_to_them(plant, truck, driver, order, product):
    tour, job = plan(plant=plant, truck=truck, driver=driver, order=order, release=False)
    message = message_post(
        sender_role=SenderRole.REP,
        sender="rita",
        body="Early notice",
        actor=DISPATCH,
        job=job,
        to_driver=True,
    )
    client = driver_client(driver)

    assert client.get(INBOX).json() == []
    assert client.post(read_url(message)).status_code == 404
    tour_release(tour=tour, actor=DISPATCH)
    assert [m["body"] for m in client.get(INBOX).json()] == ["Early notice"]


@pytest.mark.django_db
def test_a_message_to_the_driver_needs_a_driver(order):
    from oms.exceptions import ValidationError

    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)

    with pytest.raises(ValidationError) as raised:
        message_post(
            sender_role=SenderRole.REP, sender="rita", body="hi", actor=DISPATCH, job=job, to_driver=True
        )

    assert raised.value.errors == {"to_driver": ["No driver is assigned to this job or tour yet."]}
    assert not Message.objects.exists() and not OutboxMessage.objects.filter(type="message").exists()


@pytest.mark.django_db
def test_the_migration_puts_earlier_messages_in_their_drivers_inboxes(assigned, driver, order):
    _, job = assigned
    at = timezone.now()
    own = Message.objects.create(sender_role="driver", sender=driver.code, body="old", at=at, job=job)
    to_driver = Message.objects.create(sender_role="rep", sender="rita", body="old reply", at=at, job=job)
    to_customer = Message.objects.create(
        sender_role="rep", sender="rita", body="to customer", at=at, order=order
    )
    migration = importlib.import_module("fleet.migrations.0003_driver_inbox")

    migration.messages_to_inboxes(apps, None)

    rows = Message.objects.order_by("pk").values_list("pk", "driver", "read_by_driver_at")
    assert list(rows) == [
        (own.pk, driver.pk, at),
        (to_driver.pk, driver.pk, None),
        (to_customer.pk, None, None),
    ]
