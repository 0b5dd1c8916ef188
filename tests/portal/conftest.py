"""Fixtures of the portal tests: two customers with portal users and their orders (the plant, truck and
products are those of the shared `world` of tests/conftest.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils import timezone

from customers.models import Customer, PortalAccess, Site
from fleet.models import Job, JobStatus, ProofOfDelivery, Tour, Truck
from oms.lib.actors import Actor
from orders.models import Channel, OrderStatus
from tests.helpers import World, place_order

PASSWORD = "correct horse battery staple 7"
MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def _clean_cache_and_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


def make_customer(name: str, email: str, *, with_user: bool = True) -> Customer:
    customer = Customer.objects.create(
        number=f"C-{abs(hash(email)) % 10**6:06d}", name=name, email=email, kind=Customer.Kind.COMPANY
    )
    Site.objects.create(
        customer=customer, name=f"{name} site", address="1 Main St", city="Sofia", lat=42.69, lon=23.30
    )
    if with_user:
        user = get_user_model().objects.create_user(username=email, email=email, password=PASSWORD)
        PortalAccess.objects.create(customer=customer, user=user)
    return customer


@pytest.fixture
def customer_a(world) -> Customer:
    return make_customer("Alpha Build", "alpha@example.com")


@pytest.fixture
def customer_b(world) -> Customer:
    return make_customer("Beta Homes", "beta@example.com")


def user_of(customer: Customer):
    return customer.users.get()


def place(
    customer: Customer, *, channel: str = Channel.WEB, on_call: bool = False, sku: str = "C25", quantity="8"
):
    """An order of `customer` to their first site, for tomorrow, by the system; other channels than the
    web get a unique external reference."""
    return place_order(
        customer=customer,
        lines={sku: quantity},
        site=customer.sites.first(),
        channel=channel,
        actor=Actor.system(),
        requested_date=timezone.localdate() + timedelta(days=1),
        on_call=on_call,
        external_ref=f"{channel.upper()}-{customer.pk}-{timezone.now().timestamp()}"
        if channel != Channel.WEB
        else "",
    )


def set_status(order, status: str) -> None:
    """Test shortcut for states the fleet would reach (bypasses the state machine on purpose)."""
    type(order).objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()


def add_job(
    order, world: World, *, ticket: str, status: str = JobStatus.EN_ROUTE, with_pdf: bool = False
) -> Job:
    tour, _ = Tour.objects.get_or_create(
        number=f"TOUR-{ticket}",
        defaults={"date": timezone.localdate(), "plant": world.plant, "truck": world.truck},
    )
    job = Job.objects.create(
        order=order,
        plant=world.plant,
        tour=tour,
        ticket=ticket,
        status=status,
        eta=timezone.now() + timedelta(minutes=25),
    )
    Truck.objects.filter(pk=world.truck.pk).update(
        last_lat=42.68, last_lon=23.31, last_position_at=timezone.now()
    )
    if with_pdf:
        epod = ProofOfDelivery(
            job=job,
            received_by="Site manager",
            signed_at=timezone.now(),
            sha256="0" * 64,
        )
        epod.signature.save("sig.png", ContentFile(b"\x89PNG\r\n"), save=False)
        epod.pdf.save(f"{ticket}.pdf", ContentFile(MINIMAL_PDF), save=False)
        epod.save(force_insert=True)
    return job


@pytest.fixture
def a_orders(customer_a, world):
    """One order of customer A per channel, one of them on call and one delivered with an EPOD."""
    orders = {channel: place(customer_a, channel=channel) for channel in Channel.values}
    return orders


__all__ = [
    "PASSWORD",
    "MINIMAL_PDF",
    "OrderStatus",
    "add_job",
    "make_customer",
    "place",
    "set_status",
    "user_of",
]
