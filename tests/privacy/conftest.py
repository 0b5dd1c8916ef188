"""A customer contact with data in every place the OMS keeps personal data, and the searches that
prove an erasure found it all: the whole database (every text, JSON and binary column the catalog
lists) and the file storage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.utils import timezone

from catalog.models import StockLevel
from customers.models import Customer, PortalAccess
from erp_sync.models import InboxMessage
from fleet.models import Job, ProofOfDelivery
from fleet.selectors import driver_today
from fleet.services import job_assign, job_status_apply, order_split_into_jobs, tour_plan, tour_release
from fleet.services.common import driver_actor
from fleet.services.comms import message_post
from fleet.tasks import epod_render_pdf
from oms.lib.actors import Actor
from oms.models import OutboxMessage, OutboxStatus
from orders.models import Channel, Order, OrderLine
from orders.services.lifecycle import order_confirm
from tests import factories
from tests.fleet.helpers import image_bytes, upload
from tests.helpers import World, device_key, driver_client, token_client

PASSWORD = "correct horse battery staple 7"
NAME = "Ivan Petrov"
EMAIL = "ivan@example.com"
PHONE = "+359888123456"
CONTACT = "Maria Petrova-Dimova"
CONTACT_PHONE = "+359877555444"
SIGNER = "Stoyan Kolev"
STREET = "12 Cherni Vrah Blvd"
STAFF = Actor(kind="user", name="rep@oms.example")
SEARCHABLE_TYPES = ("text", "character varying", "character", "json", "jsonb")


@dataclass
class Rich:
    customer: Customer
    orders: dict[str, Order]
    epod: ProofOfDelivery
    signature: bytes
    photo: bytes
    files: list[str] = field(default_factory=list)

    @property
    def terms(self) -> list[str]:
        """What must be found nowhere after the erasure: every way the contact is written down."""
        return [
            NAME,
            EMAIL,
            PHONE,
            PHONE[1:],
            "0888123456",
            "088 812 3456",
            CONTACT,
            CONTACT_PHONE,
            SIGNER,
            STREET,
        ]


def database_hits(terms: list[str], blobs: list[bytes] = ()) -> dict[str, list[str]]:
    """{"table.column": [terms found]} over every text, JSON and binary column of the schema."""
    hits: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND (data_type = ANY(%s) OR data_type = 'bytea') "
            "ORDER BY table_name, column_name",
            [list(SEARCHABLE_TYPES)],
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            qn = connection.ops.quote_name
            if data_type == "bytea":
                for blob in blobs:
                    cursor.execute(
                        f"SELECT count(*) FROM {qn(table)} WHERE position(%s::bytea in {qn(column)}) > 0",  # noqa: S608
                        [blob],
                    )
                    if cursor.fetchone()[0]:
                        hits.setdefault(f"{table}.{column}", []).append("<signature bytes>")
                continue
            patterns = [f"%{term}%" for term in terms]
            cursor.execute(
                f"SELECT p FROM unnest(%s::text[]) p WHERE EXISTS "  # noqa: S608
                f"(SELECT 1 FROM {qn(table)} WHERE {qn(column)}::text ILIKE p)",
                [patterns],
            )
            found = [row[0][1:-1] for row in cursor.fetchall()]
            if found:
                hits[f"{table}.{column}"] = sorted(found)
    assert len(columns) > 150  # the catalog really listed the schema's columns
    return hits


def storage_hits(blobs: list[bytes]) -> list[str]:
    """Stored files (everything under MEDIA_ROOT) that hold one of `blobs`."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and any(blob in path.read_bytes() for blob in blobs)
    )


def accounts() -> dict[str, Decimal]:
    """Every money and quantity total the accounts depend on."""
    totals = Order.objects.aggregate(net=Sum("net_total"), tax=Sum("tax_total"), gross=Sum("gross_total"))
    totals |= OrderLine.objects.aggregate(
        quantity=Sum("quantity"),
        delivered=Sum("delivered"),
        line_net=Sum("net"),
        line_tax=Sum("tax"),
        allocated=Sum("allocated"),
    )
    totals |= StockLevel.objects.aggregate(on_hand=Sum("on_hand"), stock_allocated=Sum("allocated"))
    totals["orders"] = Decimal(Order.objects.count())
    totals["lines"] = Decimal(OrderLine.objects.count())
    return totals


def table_snapshot() -> dict[str, list]:
    """Every row of every table of the schema, as text: equal snapshots mean nothing changed."""
    snapshot = {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t ORDER BY 1")  # noqa: S608
            snapshot[table] = [row[0] for row in cursor.fetchall()]
    return snapshot


def portal_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _deliver_with_epod(world: World, order: Order, *, signature: bytes, photo: bytes) -> ProofOfDelivery:
    """Dispatch the order's one load, drive it to the site and submit the EPOD through the driver API."""
    truck, driver = world.truck, world.driver
    tour = tour_plan(plant=world.plant, truck=truck, driver=driver, date=driver_today(driver), actor=STAFF)
    (job,) = order_split_into_jobs(order=order, actor=STAFF)
    job_assign(job=job, tour=tour, actor=STAFF)
    tour_release(tour=tour, actor=STAFF)
    t0 = timezone.now() - timedelta(hours=1)
    for minutes, status in enumerate(["loading", "loaded", "en_route", "arrived", "unloading"]):
        job_status_apply(
            job=job, status=status, at=t0 + timedelta(minutes=minutes), actor=driver_actor(driver)
        )
    job = Job.objects.get(pk=job.pk)
    response = driver_client(driver).post(
        f"/api/v1/driver/jobs/{job.public_id}/epod/",
        {
            "received_by": SIGNER,
            "signature": upload("sig.png", signature),
            "photos": [upload("site.jpg", photo, "image/jpeg")],
            "lat": "42.6977",
            "lon": "23.3219",
            "signed_at": (timezone.now() - timedelta(minutes=1)).replace(microsecond=0).isoformat(),
            "lines": json.dumps([{"position": 1, "delivered": "5.000"}]),
            "remarks": f"Signed by {SIGNER} for {NAME}",
        },
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="epod-1",
    )
    assert response.status_code == 201, response.content
    epod = ProofOfDelivery.objects.get(job=job)
    assert epod_render_pdf(epod.pk) is True
    epod.refresh_from_db()
    return epod


def build_rich_customer(world: World) -> Rich:
    """Ivan Petrov with a site and its contact, a portal login that signed in (and once failed),
    orders on the web, by phone and at a kiosk (through the API, with a stored idempotent response),
    a delivered load with a signed EPOD (signature, photo, PDF), portal messages and a call-back, a
    message from the ERP about him in the inbox, an admin log entry and outbox messages both sent and
    still pending."""
    customer = world.customer
    factories.ErpSystemFactory(code="ERP1", is_default=True, base_url="http://127.0.0.1:9/")
    site = world.site
    site.address = STREET
    site.contact_name = CONTACT
    site.contact_phone = CONTACT_PHONE
    site.access_notes = f"Ask for {CONTACT} at the gate"
    site.save()
    user = get_user_model().objects.create_user(
        username=EMAIL, email=EMAIL, password=PASSWORD, first_name="Ivan", last_name="Petrov"
    )
    PortalAccess.objects.create(customer=customer, user=user)
    for password in ("wrong password", PASSWORD):  # one failed and one good sign-in, logged by axes
        Client().post("/portal/login/", {"username": EMAIL, "password": password}, REMOTE_ADDR="10.0.0.7")

    web = world.place("5", channel=Channel.WEB, notes=f"Call {NAME} on {PHONE}")
    phone = world.place("2", channel=Channel.PHONE, actor=STAFF.on_channel(Channel.PHONE))
    sales_point = factories.SalesPointFactory(code="KIOSK-1", channel=Channel.KIOSK, plant=world.plant)
    kiosk = token_client(device_key(sales_point)).post(
        "/api/v1/orders/",
        {
            "customer": {"number": customer.number},
            "fulfilment": "pickup",
            "lines": [{"sku": "GRAVEL", "quantity": "1.000"}],
            "notes": f"Pickup by {NAME}",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="kiosk-1",
    )
    assert kiosk.status_code == 201, kiosk.content
    orders = {"web": web, "phone": phone, "kiosk": Order.objects.get(number=kiosk.json()["number"])}

    order_confirm(order=web, erp_order_number="ERP-7001", actor=Actor.system())
    signature = image_bytes("PNG", size=(61, 23), color=(11, 22, 33))
    photo = image_bytes("JPEG", size=(37, 29), color=(200, 10, 90))
    epod = _deliver_with_epod(world, web, signature=signature, photo=photo)

    portal = portal_client(user)
    response = portal.post(
        f"/portal/orders/{web.number}/messages/", {"body": f"This is {NAME}, please call {CONTACT}"}
    )
    assert response.status_code in (200, 302), response.content
    response = portal.post(
        f"/portal/orders/{web.number}/call-back/", {"phone": PHONE, "reason": "Invoice question"}
    )
    assert response.status_code in (200, 302), response.content
    message_post(
        sender_role="rep",
        sender="rep@oms.example",
        body=f"Dear {NAME}, the driver is on his way.",
        order=web,
        actor=STAFF,
    )

    system = factories.ErpSystemFactory(code="ERP2")
    InboxMessage.objects.create(
        system=system,
        message_id="cust-1",
        type="master.customer",
        entity_type="customer",
        entity_key="K-77",
        payload={"type": "master.customer", "data": {"name": NAME, "email": EMAIL, "phone": PHONE}},
        status=InboxMessage.Status.PROCESSED,
        received_at=timezone.now(),
    )
    staff = get_user_model().objects.create_user(username="admin1", is_staff=True)
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(customer.pk),
        object_repr=str(customer),
        action_flag=CHANGE,
        change_message=f"Changed email to {EMAIL}",
    )
    # The phone order's `order.created` reached the ERP; the others still wait.
    OutboxMessage.objects.filter(aggregate_type="order", aggregate_id=phone.number).update(
        status=OutboxStatus.SENT, sent_at=timezone.now()
    )
    assert OutboxMessage.objects.filter(status=OutboxStatus.PENDING, payload__customer__name=NAME).exists()
    files = [epod.signature.name, epod.pdf.name, *[p.image.name for p in epod.photos.all()]]
    return Rich(customer=customer, orders=orders, epod=epod, signature=signature, photo=photo, files=files)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def rich(world, media) -> Rich:
    return build_rich_customer(world)
