"""Fixtures of the console tests: staff users per role, a small world, orders placed through the service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from oms import roles
from oms.lib.actors import Actor
from orders.models import Channel
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place
from tests import factories

PASSWORD = "console-pass-123"  # noqa: S105


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(role: str | None, username: str | None = None, *, staff: bool = True):
    user = factories.UserFactory(username=username or f"{role or 'nobody'}-user", is_staff=staff)
    user.set_password(PASSWORD)
    user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def rep(db):
    return make_user(roles.REP, "rita")


@pytest.fixture
def dispatcher(db):
    return make_user(roles.DISPATCHER, "dan")


@pytest.fixture
def admin_user(db):
    return make_user(roles.ADMIN, "ada")


@pytest.fixture
def customer_user(db):
    return make_user(roles.CUSTOMER, "carl", staff=False)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep_client(rep):
    return client_for(rep)


@pytest.fixture
def dispatcher_client(dispatcher):
    return client_for(dispatcher)


class World:
    """A plant with stock, a customer with a site, a truck with a driver."""

    def __init__(self):
        self.plant = factories.PlantFactory(code="SOF", name="Sofia plant", lat=42.70, lon=23.32)
        self.gravel = factories.ProductFactory(
            sku="GRAVEL", name="Gravel 4-16", unit="t", unit_price=Decimal("10.00"), vat_rate=Decimal("20.00")
        )
        factories.StockLevelFactory(plant=self.plant, product=self.gravel, on_hand=Decimal("100.000"))
        self.concrete = factories.ProductFactory(
            sku="C25-30", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"), stocked=False
        )
        self.customer = factories.CustomerFactory(
            number="C-100001", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
        )
        self.site = factories.SiteFactory(
            customer=self.customer, name="Lozenets house", address="12 Cherni Vrah Blvd", city="Sofia"
        )
        self.truck = factories.TruckFactory(
            code="TRK-01",
            plant=self.plant,
            capacity=Decimal("10.000"),
            last_lat=42.68,
            last_lon=23.31,
            last_position_at=timezone.now(),
        )
        self.driver = factories.DriverFactory(code="DRV-01", name="Georgi Ivanov", plant=self.plant)

    def place(self, *, channel=Channel.WEB, quantity="5", sku="GRAVEL", customer=None, **kwargs):
        customer = customer or self.customer
        site = kwargs.pop("site", None) or (self.site if customer == self.customer else None)
        return order_place(
            channel=channel,
            customer=CustomerRef(customer=customer),
            lines=[LineInput(sku=sku, quantity=Decimal(quantity))],
            actor=Actor(kind="customer", name=customer.email, channel=channel),
            site=SiteRef(id=str(site.public_id)) if site else None,
            fulfilment="delivery" if site else "pickup",
            **kwargs,
        )


@pytest.fixture
def world(db):
    return World()
