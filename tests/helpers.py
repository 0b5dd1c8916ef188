"""Helpers shared by the test packages: API keys and clients, placing an order, the shared world,
management commands. Factories are in tests/factories.py, fixtures in tests/conftest.py."""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Customer, Site
from fleet.services.keys import driver_key_issue
from oms.lib.actors import Actor
from orders.models import Channel
from orders.services.clients import api_client_issue
from orders.services.placement import CustomerRef, LineInput, SiteRef, order_place
from tests import factories

# --- API keys and clients ---------------------------------------------------------------------------


def device_key(sales_point, *, name: str = "test device") -> str:
    """A new plaintext key of a kiosk / store POS."""
    return api_client_issue(sales_point=sales_point, name=name)[1]


def driver_key(driver, *, name: str = "test driver") -> str:
    """A new plaintext key of a driver's app."""
    return driver_key_issue(driver=driver, name=name)[1]


def token_client(key: str | None) -> APIClient:
    """A DRF test client sending `Authorization: Token <key>` (none without a key)."""
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def driver_client(driver) -> APIClient:
    """A client of the driver API, signed in with a new key of `driver`."""
    return token_client(driver_key(driver, name=""))


# --- placing orders ---------------------------------------------------------------------------------


def place_order(
    *, customer, lines, site=None, channel: str = Channel.WEB, actor: Actor | None = None, **kwargs
):
    """`order_place` with test-friendly arguments; everything else is passed through.

    - `customer`: a Customer or a CustomerRef;
    - `lines`: a dict {product or SKU: quantity} or a list of LineInput;
    - `site`: a Site, a SiteRef or None;
    - `actor`: by default the Customer on the order's channel (`customer:<email>`); pass one with a
      CustomerRef.
    """
    if isinstance(lines, dict):
        lines = [
            LineInput(sku=getattr(product, "sku", product), quantity=Decimal(str(quantity)))
            for product, quantity in lines.items()
        ]
    if actor is None:
        actor = Actor(kind="customer", name=customer.email, channel=channel)
    if isinstance(customer, Customer):
        customer = CustomerRef(customer=customer)
    if isinstance(site, Site):
        site = SiteRef(id=str(site.public_id))
    return order_place(channel=channel, customer=customer, site=site, lines=lines, actor=actor, **kwargs)


class World:
    """A small world to place orders in (the `world` fixture):

    - `plant`: SOF "Sofia plant" (42.70, 23.32), Europe/Sofia;
    - `gravel`: GRAVEL "Gravel 4-16", 10.00 per t, 20 % VAT, 100 t on hand at the plant;
    - `concrete`: C25 "Concrete C25/30", 95.00 per m3, made to order (no stock);
    - `customer`: C-100001 Ivan Petrov, ivan@example.com, +359888123456, with the `site`
      "Lozenets house", 12 Cherni Vrah Blvd, Sofia; `actor` is that customer on the web.

    Made on first use only, so that tests bringing their own fleet are not disturbed:

    - `truck`: TRK-01, 10.000 capacity, seen at (42.68, 23.31) at the moment it is made;
    - `driver`: DRV-01 Georgi Ivanov.
    """

    def __init__(self):
        self.plant = factories.PlantFactory(code="SOF", name="Sofia plant", lat=42.70, lon=23.32)
        self.gravel = factories.ProductFactory(
            sku="GRAVEL", name="Gravel 4-16", unit="t", unit_price=Decimal("10.00"), vat_rate=Decimal("20.00")
        )
        factories.StockLevelFactory(plant=self.plant, product=self.gravel, on_hand=Decimal("100.000"))
        self.concrete = factories.ProductFactory(
            sku="C25", name="Concrete C25/30", unit="m3", unit_price=Decimal("95.00"), stocked=False
        )
        self.customer = factories.CustomerFactory(
            number="C-100001", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
        )
        self.site = factories.SiteFactory(
            customer=self.customer, name="Lozenets house", address="12 Cherni Vrah Blvd", city="Sofia"
        )
        self.actor = Actor(kind="customer", name="ivan@example.com", channel=Channel.WEB)

    @cached_property
    def truck(self):
        return factories.TruckFactory(
            code="TRK-01",
            plant=self.plant,
            capacity=Decimal("10.000"),
            last_lat=42.68,
            last_lon=23.31,
            last_position_at=timezone.now(),
        )

    @cached_property
    def driver(self):
        return factories.DriverFactory(code="DRV-01", name="Georgi Ivanov", plant=self.plant)

    def place(self, quantity="5", *, sku="GRAVEL", channel=Channel.WEB, customer=None, **kwargs):
        """An order of `quantity` of `sku` from the plant: delivered to the site for the world's
        customer, picked up for another one (`customer=`); the actor is the customer on `channel`."""
        customer = customer or self.customer
        site = kwargs.pop("site", None) or (self.site if customer == self.customer else None)
        kwargs.setdefault("fulfilment", "delivery" if site else "pickup")
        kwargs.setdefault("plant", self.plant)
        return place_order(customer=customer, lines={sku: quantity}, site=site, channel=channel, **kwargs)


# --- management commands ----------------------------------------------------------------------------


def run_command(*args) -> str:
    """What `manage.py <args>` prints."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


# --- the documented production environment -------------------------------------------------------

GOOD_SECRET = "k3Jx9-vQ2mZp7Lw4Rt8Yb1Nc6Hd0Gf5Sa2Ue9Io3Pq7Wr4Ty8Ui1Op6As5Df"
CREDENTIAL_KEY = "q1Zc3xBv8yZ7Jw0Jc2mJr4bF6Vd9Hk1Lp5Ns3Qt7Wx0="


def documented_production_env(tmp_path) -> dict[str, str]:
    """The production `.env` of docs/operations.md, its empty secrets filled in, var/ in `tmp_path`."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "operations.md").read_text()
    block = re.search(r"```sh\n# Production environment of every process.*?\n```", text, re.S).group(0)
    env = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", block, re.M))
    generated = {
        "DJANGO_SECRET_KEY": GOOD_SECRET,
        "OMS_CREDENTIAL_KEYS": CREDENTIAL_KEY,
        "OMS_HEALTH_TOKEN": "a-monitor-token-of-our-own",
    }
    assert {name for name, value in env.items() if not value} == set(generated)
    # The documented paths cannot be created here: only the local state directory moves.
    return {**env, **generated, "OMS_VAR_DIR": str(tmp_path / "var")}
