import pytest
from django.core.management import call_command

from fleet.models import Job, PositionReport, Tour
from fleet.selectors import driver_today
from fleet.services import job_assign, order_split_into_jobs, tour_plan, tour_release
from oms.lib.actors import Actor
from oms.models import OutboxMessage

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")


@pytest.mark.django_db
def test_simulator_drives_a_tour_to_completion_through_the_services(order, plant, truck, driver, capsys):
    tour = tour_plan(plant=plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)

    call_command("fleet_simulate", "--iterations", "12", "--tick", "0.01", "--speedup", "1000000")

    assert capsys.readouterr().out.startswith("fleet_simulate: 12 steps, 9 truck actions")
    job.refresh_from_db()
    order.refresh_from_db()
    assert (job.status, order.status) == ("delivered", "delivered")
    assert Job.objects.get(type="homerun").status == "delivered"
    assert Tour.objects.get().status == "completed"
    assert PositionReport.objects.count() == 2
    assert list(OutboxMessage.objects.order_by("created_at").values_list("type", flat=True)) == [
        "job.details",
        "tour.status",
        "tour.status",
        "item.positions",
        "shipment.info",
        "delivery.confirmation",
        "epod",
        "item.positions",
        "job.details",
        "tour.status",
    ]
