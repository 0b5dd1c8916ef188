"""Fleet messages from the ERP through the inbox into the fleet services."""

from decimal import Decimal

import pytest

from erp_sync.inbound import inbox_apply_pending, inbox_store_batch
from erp_sync.models import InboxMessage
from fleet.models import Job, Tour
from orders.models import Order
from tests.erp_sync.conftest import envelope

pytestmark = pytest.mark.django_db


def apply(system, messages):
    inbox_store_batch(system=system, messages=messages, source="pull")
    outcomes, _ = inbox_apply_pending(max_seconds=30)
    return dict(outcomes)


@pytest.fixture
def fleet(erp_system, world):
    assert apply(
        erp_system,
        [
            envelope(
                "TR-1",
                "master.truck",
                ("truck", "TR-1"),
                1,
                {"code": "TR-1", "plant": "SOF", "capacity": "8"},
            ),
            envelope(
                "DR-1",
                "master.driver",
                ("driver", "DR-1"),
                1,
                {"code": "DR-1", "name": "Georgi", "plant": "SOF"},
            ),
        ],
    ) == {"processed": 2}
    return world


def delivery(mid, order, version=1, **extra):
    data = {
        "order": order.number,
        "ticket": "T-100",
        "lines": [{"position": 1, "quantity": "2.000"}],
        "plant": "SOF",
        "planned_at": "2026-12-01T08:00:00+02:00",
        **extra,
    }
    return envelope(mid, "task.delivery", ("job", "T-100"), version, data)


def test_task_delivery_with_truck_and_driver_puts_the_job_on_a_released_tour(erp_system, fleet):
    order = fleet.place("5")

    assert apply(erp_system, [delivery("D-1", order, truck="TR-1", driver="DR-1")]) == {"processed": 1}

    job = Job.objects.get(ticket="T-100")
    assert (job.order_id, job.plant.code, job.tour.truck.code, job.tour.driver.code) == (
        order.pk,
        "SOF",
        "TR-1",
        "DR-1",
    )
    assert job.tour.status == "released"
    assert list(job.lines.values_list("planned", flat=True)) == [Decimal("2.000")]


def test_task_delivery_without_truck_waits_for_dispatch_and_loading_status_applies(erp_system, fleet):
    order = fleet.place("5")
    apply(erp_system, [delivery("D-1", order)])
    job = Job.objects.get(ticket="T-100")
    assert (job.tour_id, job.status) == (None, "planned")

    status = envelope(
        "L-1",
        "order.loading_status",
        ("order", order.number),
        1,
        {
            "order": order.number,
            "ticket": "T-100",
            "loading_status": "batching",
            "at": "2026-12-01T07:30:00Z",
        },
    )
    assert apply(erp_system, [status]) == {"processed": 1}
    job.refresh_from_db()
    assert job.loading_status == "batching"
    assert Order.objects.get(pk=order.pk).loading_started_at is not None


def test_task_delivery_for_an_unknown_truck_fails_and_creates_nothing(erp_system, fleet):
    order = fleet.place("5")

    assert apply(erp_system, [delivery("D-1", order, truck="TR-9", driver="DR-1")]) == {"failed": 1}
    assert InboxMessage.objects.get(message_id="D-1").error == "Unknown truck 'TR-9'."
    assert not Job.objects.exists()
    assert not Tour.objects.exists()


def test_task_cancellation_cancels_jobs_and_the_order(erp_system, fleet):
    order = fleet.place("5")
    apply(erp_system, [delivery("D-1", order)])
    cancel = envelope(
        "C-1",
        "task.cancellation",
        ("order", order.number),
        1,
        {"order": order.number, "reason": "Site closed"},
    )

    assert apply(erp_system, [cancel]) == {"processed": 1}
    assert Job.objects.get(ticket="T-100").status == "cancelled"
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_task_homerun(erp_system, fleet):
    # One version space per (entity type, key): master.truck TR-1 was version 1.
    homerun = envelope(
        "H-1",
        "task.homerun",
        ("truck", "TR-1"),
        2,
        {"truck": "TR-1", "driver": "DR-1", "plant": "SOF", "planned_at": "2026-12-01T16:00:00Z"},
    )

    assert apply(erp_system, [homerun]) == {"processed": 1}
    assert Job.objects.get(type="homerun").tour.truck.code == "TR-1"
