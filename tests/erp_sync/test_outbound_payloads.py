"""Every outbound message the code builds matches its schema field for field, so the generated ERP
guide and `docs/asyncapi.yaml` describe what the OMS really sends: no field missing from a schema,
every required field present, every type produced by one order's life plus messages and call-offs."""

from __future__ import annotations

import hashlib
import io
from datetime import time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from PIL import Image

from customers.models import Customer
from erp_sync import envelope as env
from erp_sync.asyncapi import load_schema
from erp_sync.privacy import customer_erase
from erp_sync.relay import envelope_for
from fleet.evidence import Evidence
from fleet.models import Job, JobType, SenderRole
from fleet.selectors import driver_today
from fleet.services import (
    batch_record_create,
    call_request_create,
    epod_submit,
    job_assign,
    job_status_apply,
    message_post,
    order_split_into_jobs,
    positions_ingest,
    tour_plan,
    tour_release,
)
from fleet.services.common import driver_actor
from oms.lib.actors import Actor
from oms.models import OutboxMessage
from orders.models import Order
from orders.services.lifecycle import (
    Correction,
    order_call_off,
    order_cancel,
    order_cancel_request,
    order_correct,
    order_loads_pause,
)
from orders.services.returns import return_approve, return_receive, return_request
from portal.services import order_callback_request, order_message_post
from tests import factories

DISPATCH = Actor(kind="user", name="dispatcher@oms.example")
REP = Actor(kind="user", name="rep@oms.example")


def undocumented(schema: dict[str, Any], value: Any, path: str = "data") -> list[str]:
    """Paths of `value` that `schema` does not name (objects) or describe (array items)."""
    found: list[str] = []
    if isinstance(value, dict):
        branch = (
            schema
            if "properties" in schema
            else next((b for b in schema.get("anyOf", []) if "properties" in b), None)
        )
        properties = branch["properties"] if branch is not None else {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            if key in properties:
                found += undocumented(properties[key], item, f"{path}.{key}")
            elif not isinstance(extra, dict):
                found.append(f"{path}.{key}")
    elif isinstance(value, list) and value:
        if "items" not in schema:
            found.append(f"{path}[]")
        else:
            for index, item in enumerate(value):
                found += undocumented(schema["items"], item, f"{path}[{index}]")
    return found


def signature() -> Evidence:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="PNG")
    content = buffer.getvalue()
    return Evidence(content=content, format="PNG", sha256=hashlib.sha256(content).hexdigest())


def deliver(world, truck, driver, order, *, t0):
    """Plan, load, batch, drive, unload and sign for one order's single load; then drive home."""
    actor = driver_actor(driver)
    tour = tour_plan(plant=world.plant, truck=truck, driver=driver, date=driver_today(driver), actor=DISPATCH)
    (job,) = order_split_into_jobs(order=order, actor=DISPATCH)
    job_assign(job=job, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    positions_ingest(
        truck=truck, points=[{"at": t0, "lat": 42.7, "lon": 23.3, "speed": 0.0, "heading": None}]
    )
    job_status_apply(job=job, status="loading", at=t0 + timedelta(minutes=1), actor=actor)
    job_status_apply(job=job, status="loaded", at=t0 + timedelta(minutes=2), actor=actor)
    batch_record_create(
        job=job,
        actor=actor,
        batch_number="B-1",
        recipe="C25/30",
        batched_at=t0 + timedelta(minutes=1),
        constituents=[{"material": "Cement", "target": "280.000", "actual": "281.500", "unit": "kg"}],
        water_cement_ratio=Decimal("0.480"),
        slump_mm=120,
        temperature_c=Decimal("18.5"),
    )
    for minutes, status in ((3, "en_route"), (20, "arrived"), (21, "unloading")):
        job_status_apply(job=job, status=status, at=t0 + timedelta(minutes=minutes), actor=actor)
    epod_submit(
        job=Job.objects.get(pk=job.pk),
        actor=actor,
        received_by="Site manager",
        signature=signature(),
        photos=[],
        signed_at=t0 + timedelta(minutes=25),
        lines=[{"position": 1, "delivered": Decimal("3"), "returned": Decimal("0")}],
        lat=42.69,
        lon=23.32,
        water_added_l=Decimal("12.5"),
        remarks="Left at the gate",
    )
    homerun = Job.objects.get(tour=tour, type=JobType.HOMERUN)
    for minutes, status in ((26, "en_route"), (40, "arrived"), (41, "delivered")):
        job_status_apply(job=homerun, status=status, at=t0 + timedelta(minutes=minutes), actor=actor)
    return job


def test_every_outbound_payload_matches_its_schema_field_for_field(world):
    t0 = timezone.now() - timedelta(hours=2)
    truck = factories.TruckFactory(plant=world.plant, capacity=Decimal("10.000"))
    driver = factories.DriverFactory(plant=world.plant)
    other_truck = factories.TruckFactory(plant=world.plant, capacity=Decimal("10.000"))
    other_driver = factories.DriverFactory(plant=world.plant)

    # One order's life: placed, corrected, delivered, messages and call-backs, a return.
    order = world.place("2")
    order = order_correct(
        order=order,
        corrections=[Correction(position=1, field="quantity", new=Decimal("3"), reason="More needed")],
        actor=REP,
    )
    job = deliver(world, truck, driver, order, t0=t0)
    order = Order.objects.get(pk=order.pk)
    order_message_post(order=order, body="Thank you", actor=world.actor)
    order_callback_request(order=order, reason="Invoice question", phone="+359888000111", actor=world.actor)
    message_post(
        sender_role=SenderRole.DRIVER,
        sender=driver.code,
        body="Unloaded",
        actor=driver_actor(driver),
        job=job,
    )
    message_post(
        sender_role=SenderRole.DISPATCHER, sender="dispatcher", body="Shift ends at 18:00", actor=DISPATCH
    )
    call_request_create(
        reason="Flat tyre",
        actor=driver_actor(driver),
        requested_by_role=SenderRole.DRIVER,
        requested_by=driver.code,
    )
    ret = return_request(order=order, lines={1: Decimal("1")}, reason="Too much", actor=world.actor)
    return_receive(ret=return_approve(ret=ret, actor=REP), actor=REP)

    # Cancelled at once; cancelled after loading, with what came back.
    order_cancel_request(order=world.place("1"), reason="Changed plans", actor=world.actor)
    loaded = world.place("4")
    tour = tour_plan(
        plant=world.plant,
        truck=other_truck,
        driver=other_driver,
        date=driver_today(other_driver),
        actor=DISPATCH,
    )
    (load,) = order_split_into_jobs(order=loaded, actor=DISPATCH)
    job_assign(job=load, tour=tour, actor=DISPATCH)
    tour_release(tour=tour, actor=DISPATCH)
    for minutes, status in ((1, "loading"), (2, "loaded")):
        job_status_apply(
            job=load, status=status, at=t0 + timedelta(minutes=minutes), actor=driver_actor(other_driver)
        )
    loaded = order_cancel_request(
        order=Order.objects.get(pk=loaded.pk), reason="Site closed", actor=world.actor
    )
    order_cancel(order=loaded, reason="Approved", actor=REP, returned={1: Decimal("4")})

    # A load that fails at the site with a reason, and what came back.
    failing = world.place("2")
    (failed_load,) = order_split_into_jobs(order=failing, actor=DISPATCH)
    job_assign(job=failed_load, tour=tour, actor=DISPATCH)
    for minutes, status in ((3, "loading"), (4, "loaded"), (5, "en_route"), (6, "arrived")):
        job_status_apply(
            job=failed_load,
            status=status,
            at=t0 + timedelta(minutes=minutes),
            actor=driver_actor(other_driver),
        )
    job_status_apply(
        job=failed_load,
        status="failed",
        at=t0 + timedelta(minutes=7),
        actor=driver_actor(other_driver),
        reason="rejected_by_site",
        returned={1: Decimal("2")},
    )

    # An on-call order released by a call-off.
    on_call = world.place(
        "5",
        on_call=True,
        window_from=time(8, 0),
        window_to=time(10, 0),
    )
    order_call_off(order=on_call, actor=world.actor, lines={1: Decimal("2")}, note="Next truck please")
    order_loads_pause(order=on_call, actor=world.actor, reason="Rain")

    # A customer who asked to be forgotten (docs/privacy.md); nothing of theirs is in progress.
    forgotten = Customer.objects.create(number="C-200001", name="Forgotten Person", email="gone@example.com")
    customer_erase(customer=forgotten, actor=Actor.system("privacy desk"))

    seen: dict[str, int] = {}
    for message in OutboxMessage.objects.order_by("created_at", "sequence"):
        seen[message.type] = seen.get(message.type, 0) + 1
        schema = load_schema(message.type)
        assert env.schema_errors("envelope", envelope_for(message)) == "", message.type
        assert env.validate_outbound(message.type, message.payload) == "", (message.type, message.payload)
        assert undocumented(schema, message.payload) == [], message.type

    assert set(seen) == env.OUTBOUND_TYPES
    payloads = {m.type: m.payload for m in OutboxMessage.objects.order_by("created_at")}
    assert payloads["call.request"]["lines"] == [{"position": 1, "quantity": "2.000"}]
    assert OutboxMessage.objects.filter(type="order.cancelled", payload__returned=[]).count() == 1
    assert payloads["delivery.failed"]["reason"] == "rejected_by_site"
    assert payloads["delivery.failed"]["lines"] == [{"position": 1, "loaded": "2.000", "returned": "2.000"}]
    assert payloads["job.cancelled"]["reason"] == "Approved"
    assert OutboxMessage.objects.filter(type="tour.status", payload__has_key="position").exists()
