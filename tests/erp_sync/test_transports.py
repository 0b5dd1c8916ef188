"""Pull over http_json (cursor only after storing), the file drop, the simulator, outbound schemas."""

import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from catalog.models import Plant
from erp_sync import envelope as env
from erp_sync.adapters.base import PullPage
from erp_sync.inbound import inbox_apply_pending
from erp_sync.models import InboxMessage
from erp_sync.pull import pull_system
from erp_sync.relay import envelope_for, relay_drain
from fleet.models import Job, JobLine, Tour
from oms.models import ErpSystem, OutboxMessage
from orders.models import Fulfilment, Order
from tests import factories
from tests.erp_sync.conftest import envelope
from tests.helpers import place_order

pytestmark = pytest.mark.django_db


def plant(mid, version, name="Sofia"):
    return envelope(mid, "master.plant", ("plant", "SOF"), version, {"code": "SOF", "name": name})


def test_pull_pages_and_stores_the_cursor(fake_erp, erp_system):
    fake_erp.add_feed([plant(f"M-{i}", i + 1, name=f"v{i}") for i in range(5)])

    counts = pull_system(erp_system, page_size=2)

    erp_system.refresh_from_db()
    assert dict(counts) == {"pages": 4, "accepted": 5}
    assert fake_erp.get_cursors == [None, "2", "4", "5"]
    assert erp_system.pull_cursor == "5"
    assert InboxMessage.objects.filter(source="pull").count() == 5
    inbox_apply_pending(max_seconds=10)
    assert Plant.objects.get().name == "v4"


def test_cursor_is_not_advanced_when_storing_fails(fake_erp, erp_system, monkeypatch):
    fake_erp.add_feed([plant("M-1", 1)])
    from erp_sync import inbound

    def boom(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(inbound, "_validate", lambda p: boom())
    with pytest.raises(RuntimeError):
        pull_system(erp_system)

    erp_system.refresh_from_db()
    assert (erp_system.pull_cursor, InboxMessage.objects.count()) == ("", 0)


def test_pull_401_pauses_the_connection(fake_erp, erp_system):
    fake_erp.mode = "401"

    pull_system(erp_system)

    erp_system.refresh_from_db()
    assert erp_system.connection_state == "paused"
    assert InboxMessage.objects.count() == 0


def test_one_puller_per_erp(fake_erp, erp_system):
    from erp_sync.pull import pull_lease_name
    from oms.lib.lease import lease_acquire

    assert lease_acquire(pull_lease_name(erp_system), holder="someone", ttl_seconds=60)

    assert pull_system(erp_system) is None
    assert fake_erp.requests == 0


@pytest.fixture
def drop_system(tmp_path):
    return ErpSystem.objects.create(
        code="FILE", adapter="file_drop", base_url=f"file://{tmp_path}", is_default=True
    )


def test_file_drop_pickup_bad_files_and_outbound(drop_system, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.json").write_text(json.dumps(plant("F-1", 1)))
    (inbox / "b.json").write_text(json.dumps({"messages": [plant("F-2", 2, name="Two")]}))
    (inbox / "c.json").write_text("{broken")

    counts = pull_system(drop_system)

    assert dict(counts) == {"pages": 2, "accepted": 2, "rejected": 1}
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["a.json", "b.json"]
    assert sorted(p.name for p in (tmp_path / "error").iterdir()) == ["c.json", "c.json.error"]
    assert (tmp_path / "error" / "c.json.error").read_text().startswith("The message is not valid JSON")
    assert list(inbox.iterdir()) == []
    failed = InboxMessage.objects.get(status="failed")
    assert (failed.raw, failed.error[:7]) == ("{broken", "c.json:")

    with transaction.atomic():
        from oms.outbox import outbox_enqueue

        message = outbox_enqueue(
            type="order.correction", aggregate_type="order", aggregate_id="ORD-1", payload={}
        )
    relay_drain(max_seconds=5)
    [written] = list((tmp_path / "outbox").glob("*.json"))
    assert json.loads(written.read_text())["messages"][0]["id"] == str(message.pk)
    assert OutboxMessage.objects.get().status == "sent"


def test_simulator_acknowledges_orders_after_a_delay(world, monkeypatch):
    from erp_sync.adapters import simulator

    monkeypatch.setattr(simulator, "ACK_SECONDS", 0)
    ErpSystem.objects.create(code="SIM", adapter="simulator", is_default=True)
    order = world.place()

    relay_drain(max_seconds=5)
    inbox_apply_pending(max_seconds=5)

    order.refresh_from_db()
    assert (order.status, order.erp_order_number) == ("confirmed", f"SIM-{order.number.removeprefix('ORD-')}")


def _simulator(monkeypatch) -> ErpSystem:
    from erp_sync.adapters import simulator

    monkeypatch.setattr(simulator, "ACK_SECONDS", 0)
    return ErpSystem.objects.create(code="SIM", adapter="simulator", is_default=True)


def _tomorrow_in_sofia() -> date:
    return timezone.now().astimezone(ZoneInfo("Europe/Sofia")).date() + timedelta(days=1)


def _place(
    world, quantity: str, *, fulfilment: str = Fulfilment.DELIVERY, window_from: time | None = time(9)
):
    return place_order(
        customer=world.customer,
        site=world.site if fulfilment == Fulfilment.DELIVERY else None,
        fulfilment=fulfilment,
        lines={world.gravel: quantity},
        requested_date=_tomorrow_in_sofia(),
        window_from=window_from,
        actor=world.actor,
        plant=world.plant,
    )


def _acknowledge_and_plan(system: ErpSystem) -> None:
    relay_drain(max_seconds=5)
    inbox_apply_pending(max_seconds=5)  # the acknowledgements
    pull_system(system)
    inbox_apply_pending(max_seconds=5)  # the delivery tasks


def _jobs(order) -> list[tuple]:
    return [
        (
            job.ticket,
            job.plant.code,
            job.status,
            job.tour_id,
            [(li.order_line.position, li.planned) for li in job.lines.all()],
        )
        for job in Job.objects.filter(order=order)
        .select_related("plant")
        .prefetch_related("lines__order_line")
        .order_by("ticket")
    ]


def test_simulator_plans_the_delivery_of_an_order_it_acknowledged(world, monkeypatch):
    system = _simulator(monkeypatch)
    order = _place(world, "5")
    suffix = order.number.removeprefix("ORD-")

    _acknowledge_and_plan(system)

    order.refresh_from_db()
    assert (order.status, order.erp_order_number) == ("confirmed", f"SIM-{suffix}")
    assert _jobs(order) == [(f"SIM-{suffix}-1", "SOF", "planned", None, [(1, Decimal("5.000"))])]
    job = Job.objects.get(order=order)
    planned = datetime.combine(_tomorrow_in_sofia(), time(9), tzinfo=ZoneInfo("Europe/Sofia"))
    assert job.planned_at == planned
    task = InboxMessage.objects.get(type="task.delivery")
    assert (task.status, task.entity_type, task.entity_key) == ("processed", "job", f"SIM-{suffix}-1")
    assert task.payload["data"] == {
        "order": order.number,
        "ticket": f"SIM-{suffix}-1",
        "lines": [{"position": 1, "quantity": "5.000"}],
        "plant": "SOF",
        "planned_at": planned.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    assert env.validate_inbound(task.payload) == ""


def test_simulator_splits_an_order_above_one_load_into_jobs(world, monkeypatch):
    system = _simulator(monkeypatch)
    order = _place(world, "20")
    suffix = order.number.removeprefix("ORD-")

    _acknowledge_and_plan(system)

    order.refresh_from_db()
    assert order.status == "confirmed"
    assert _jobs(order) == [
        (f"SIM-{suffix}-1", "SOF", "planned", None, [(1, Decimal("8.000"))]),
        (f"SIM-{suffix}-2", "SOF", "planned", None, [(1, Decimal("8.000"))]),
        (f"SIM-{suffix}-3", "SOF", "planned", None, [(1, Decimal("4.000"))]),
    ]
    assert (
        sum(line.planned for line in JobLine.objects.filter(job__order=order)) == order.lines.get().quantity
    )


def test_simulator_puts_the_loads_on_a_free_truck_and_driver(world, monkeypatch):
    system = _simulator(monkeypatch)
    truck = factories.TruckFactory(code="TRK-01", plant=world.plant, capacity=Decimal("6.000"))
    factories.TruckFactory(code="TRK-02", plant=world.plant, capacity=Decimal("12.000"))
    driver = factories.DriverFactory(code="DRV-01", plant=world.plant)
    order = _place(world, "10")
    suffix = order.number.removeprefix("ORD-")

    _acknowledge_and_plan(system)

    order.refresh_from_db()
    tour = Tour.objects.get()
    assert (tour.truck, tour.driver, tour.date, tour.status) == (
        truck,
        driver,
        _tomorrow_in_sofia(),
        "released",
    )
    assert order.status == "scheduled"
    assert _jobs(order) == [
        (f"SIM-{suffix}-1", "SOF", "assigned", tour.pk, [(1, Decimal("6.000"))]),
        (f"SIM-{suffix}-2", "SOF", "assigned", tour.pk, [(1, Decimal("4.000"))]),
    ]
    assert InboxMessage.objects.get(entity_key=f"SIM-{suffix}-1").payload["data"]["driver"] == "DRV-01"


def test_simulator_adds_a_second_order_to_the_tour_it_planned(world, monkeypatch):
    system = _simulator(monkeypatch)
    factories.TruckFactory(code="TRK-01", plant=world.plant, capacity=Decimal("8.000"))
    factories.DriverFactory(code="DRV-01", plant=world.plant)
    first = _place(world, "3")
    _acknowledge_and_plan(system)
    second = _place(world, "2")

    _acknowledge_and_plan(system)

    tour = Tour.objects.get()
    assert list(tour.jobs.order_by("sequence").values_list("order__number", "sequence", "status")) == [
        (first.number, 1, "assigned"),
        (second.number, 2, "assigned"),
    ]


def test_simulator_leaves_a_started_tour_alone_and_the_job_waits_for_a_dispatcher(world, monkeypatch):
    system = _simulator(monkeypatch)
    truck = factories.TruckFactory(code="TRK-01", plant=world.plant, capacity=Decimal("8.000"))
    driver = factories.DriverFactory(code="DRV-01", plant=world.plant)
    Tour.objects.create(
        number="TOUR-900001",
        date=_tomorrow_in_sofia(),
        plant=world.plant,
        truck=truck,
        driver=driver,
        status="started",
    )
    order = _place(world, "3")
    suffix = order.number.removeprefix("ORD-")

    _acknowledge_and_plan(system)

    order.refresh_from_db()
    assert order.status == "confirmed"
    assert _jobs(order) == [(f"SIM-{suffix}-1", "SOF", "planned", None, [(1, Decimal("3.000"))])]
    assert "truck" not in InboxMessage.objects.get(type="task.delivery").payload["data"]


def test_simulator_plans_no_pickup_order(world, monkeypatch):
    system = _simulator(monkeypatch)
    order = _place(world, "5", fulfilment=Fulfilment.PICKUP)

    _acknowledge_and_plan(system)

    order.refresh_from_db()
    assert order.status == "confirmed"
    assert not Job.objects.exists()
    assert list(InboxMessage.objects.values_list("type", flat=True)) == ["order.ack"]


def test_simulator_plans_an_order_once(world, monkeypatch):
    system = _simulator(monkeypatch)
    order = _place(world, "12")
    relay_drain(max_seconds=5)
    inbox_apply_pending(max_seconds=5)

    first, second = pull_system(system), pull_system(system)  # the second before the first is applied
    inbox_apply_pending(max_seconds=5)
    third = pull_system(system)

    assert (first["accepted"], second["duplicate"], third["accepted"]) == (2, 2, 0)
    assert Job.objects.filter(order=order).count() == 2


def test_simulator_plans_no_sooner_than_the_lead_time(world, monkeypatch):
    from erp_sync.adapters import simulator

    system = _simulator(monkeypatch)
    order = _place(world, "1", window_from=time(0))
    # A requested start already past (placement refuses past dates, so it is moved afterwards).
    Order.objects.filter(pk=order.pk).update(
        requested_date=timezone.now().astimezone(ZoneInfo("Europe/Sofia")).date() - timedelta(days=1)
    )
    before = timezone.now()

    _acknowledge_and_plan(system)

    after = timezone.now()
    planned_at = Job.objects.get(order=order).planned_at
    assert (before + simulator.PLAN_LEAD).replace(second=0, microsecond=0) <= planned_at
    assert planned_at <= (after + simulator.PLAN_LEAD).replace(second=0, microsecond=0)


def test_simulator_pull_emits_stock_levels(world):
    system = ErpSystem.objects.create(code="SIM", adapter="simulator", is_default=True)
    Plant.objects.filter(pk=world.plant.pk).update(erp_system=system)

    counts = pull_system(system)

    assert counts["accepted"] == 1
    inbox_apply_pending(max_seconds=5)
    assert InboxMessage.objects.get().status == "processed"


def test_outbound_order_created_matches_its_schema(world, erp_system):
    order = world.place()
    message = OutboxMessage.objects.get(aggregate_id=order.number)

    document = envelope_for(message)
    assert env.schema_errors("envelope", document) == ""
    assert env.validate_outbound(message.type, document["data"]) == ""
    assert document["data"]["customer"]["erp_refs"] == {}


def test_outbound_cancel_and_correction_match_their_schemas(world, erp_system):
    from oms.lib.actors import Actor
    from orders.services.lifecycle import Correction, order_cancel_request, order_correct

    rep = Actor(kind="user", name="rep")
    order = world.place("2")
    order_correct(
        order=order,
        corrections=[Correction(position=1, field="quantity", new=Decimal("3"), reason="x")],
        actor=rep,
    )
    order_cancel_request(order=Order.objects.get(pk=order.pk), reason="Changed plans", actor=rep)

    types = []
    for message in OutboxMessage.objects.filter(aggregate_id=order.number).order_by("sequence"):
        types.append(message.type)
        assert env.validate_outbound(message.type, message.payload) == "", message.type
    assert types == ["order.created", "order.correction", "order.cancelled"]


def test_outbound_schema_catches_a_broken_payload():
    assert env.validate_outbound("order.cancelled", {"reason": "x"}) == "data: 'order' is a required property"
    assert env.validate_outbound("nope", {}) == "Unknown message type 'nope'."


def test_every_schema_is_valid_and_covers_every_type():
    names = {p.stem for p in env.SCHEMA_DIR.glob("*.json")}
    assert names == {"envelope"} | env.INBOUND_TYPES | env.OUTBOUND_TYPES
    for name in names:
        env.validator(name)


def test_pull_page_type_defaults():
    assert PullPage(messages=[], next_cursor=None).unusable == []
