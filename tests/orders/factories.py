"""factory-boy factories for the orders core (catalog, stock, customers, orders).

Shared by tests/orders and tests/customers; the conftest modules expose them as fixtures.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Plant, Product, StockLevel, Unit
from customers.models import Customer, Site
from oms.models import ErpSystem
from orders.models import Channel, Order, OrderLine, OrderStatus, SalesPoint


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"rep{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class ErpSystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ErpSystem

    code = factory.Sequence(lambda n: f"ERP{n}")
    name = factory.LazyAttribute(lambda e: f"{e.code} system")


class PlantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plant

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda p: f"Plant {p.code}")
    lat = 42.6977
    lon = 23.3219
    timezone = "Europe/Sofia"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda p: f"Product {p.sku}")
    unit = Unit.T
    unit_price = Decimal("10.00")
    vat_rate = Decimal("20.00")
    stocked = True
    active = True


class StockLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLevel

    plant = factory.SubFactory(PlantFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = Decimal("100.000")
    allocated = Decimal("0.000")


class SalesPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesPoint

    code = factory.Sequence(lambda n: f"KIOSK-{n:03d}")
    name = factory.LazyAttribute(lambda s: f"Kiosk {s.code}")
    channel = Channel.KIOSK
    plant = factory.SubFactory(PlantFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"C-9{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+359888{n:06d}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"Site {n}")
    address = factory.Sequence(lambda n: f"{n} Vitosha Blvd")
    city = "Sofia"
    postcode = "1000"
    country = "BG"
    lat = 42.70
    lon = 23.32


class OrderFactory(factory.django.DjangoModelFactory):
    """An order row written directly (no stock, no events): for state-machine tests."""

    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"ORD-TEST-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    channel = Channel.WEB
    status = OrderStatus.PLACED
    requested_date = factory.LazyFunction(date.today)
    plant = factory.SubFactory(PlantFactory)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    position = factory.Sequence(lambda n: n + 1)
    product = factory.SubFactory(ProductFactory)
    sku = factory.LazyAttribute(lambda line: line.product.sku)
    description = factory.LazyAttribute(lambda line: line.product.name)
    unit = factory.LazyAttribute(lambda line: line.product.unit)
    unit_price = factory.LazyAttribute(lambda line: line.product.unit_price)
    vat_rate = factory.LazyAttribute(lambda line: line.product.vat_rate)
    quantity = Decimal("1.000")
    net = factory.LazyAttribute(lambda line: line.quantity * line.unit_price)
    tax = Decimal("0.00")
