"""The driver's message inbox: who a message is for (`Message.driver`), `driver_notify` and the
driver's read mark."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from fleet.models import Message, SenderRole
from fleet.selectors import driver_today
from fleet.services import (
    driver_notify,
    job_assign,
    message_driver_read,
    message_post,
    order_split_into_jobs,
    tour_plan,
    tour_release,
)
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import OrderEvent
from tests.fleet.helpers import driver_client

DISPATCH = Actor(kind="user", name="dan")
INBOX = "/api/v1/driver/messages/"


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


@pytest.mark.django_db
def test_driver_notify_without_a_driver_writes_nothing(plant, order):
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)  # not on a tour yet

    assert driver_notify(job=job, body="Changed", actor=DISPATCH) is None
    assert not Message.objects.exists()


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
    migration = importlib.import_module("fleet.migrations.0002_driver_inbox")

    migration.messages_to_inboxes(apps, None)

    rows = Message.objects.order_by("pk").values_list("pk", "driver", "read_by_driver_at")
    assert list(rows) == [
        (own.pk, driver.pk, at),
        (to_driver.pk, driver.pk, None),
        (to_customer.pk, None, None),
    ]
