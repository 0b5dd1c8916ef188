"""Pull over http_json (cursor only after storing), the file drop, the simulator, outbound schemas."""

import json
from decimal import Decimal

import pytest
from django.db import transaction

from erp_sync import envelope as env
from erp_sync.adapters.base import PullPage
from erp_sync.inbound import inbox_apply_pending
from erp_sync.models import ErpSystem, InboxMessage, OutboxMessage
from erp_sync.pull import pull_system
from erp_sync.relay import envelope_for, relay_drain
from fleet.models import Plant
from orders.models import Order
from tests.erp_sync.conftest import envelope

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
        from erp_sync.outbox import outbox_enqueue

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
