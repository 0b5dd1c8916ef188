"""factory-boy factories for the fleet tests (exposed as fixtures in tests/fleet/conftest.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from catalog.models import Plant, Product, StockLevel
from customers.models import Customer, Site
from fleet.models import Driver, Job, JobLine, Tour, Truck
from orders.models import Channel, Order, OrderLine


class PlantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plant

    code = factory.Sequence(lambda n: f"PL{n:03d}")
    name = factory.Sequence(lambda n: f"Plant {n}")
    address = "Industrial zone 1"
    lat = 42.70
    lon = 23.30
    timezone = "Europe/Sofia"


class TruckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Truck

    code = factory.Sequence(lambda n: f"TRK-{n:03d}")
    plate = factory.Sequence(lambda n: f"CA{n:04d}AB")
    plant = factory.SubFactory(PlantFactory)
    capacity = Decimal("8.000")


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    code = factory.Sequence(lambda n: f"DRV-{n:03d}")
    name = factory.Sequence(lambda n: f"Driver Number{n}")
    phone = "+359888000111"
    plant = factory.SubFactory(PlantFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"C-{n:06d}")
    name = "Ivan Petrov"
    email = factory.Sequence(lambda n: f"ivan{n}@example.com")
    phone = factory.Sequence(lambda n: f"+35988{n:07d}")


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    customer = factory.SubFactory(CustomerFactory)
    name = "Block 7"
    address = "ul. Vitosha 1"
    city = "Sofia"
    lat = 42.6977
    lon = 23.3219


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    unit = "m3"
    unit_price = Decimal("95.00")
    vat_rate = Decimal("20.00")
    stocked = True


class StockLevelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StockLevel

    plant = factory.SubFactory(PlantFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = Decimal("100.000")
    allocated = Decimal("0.000")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"ORD-2026-{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    site = factory.SubFactory(SiteFactory, customer=factory.SelfAttribute("..customer"))
    address = factory.LazyAttribute(lambda o: o.site.snapshot())
    channel = Channel.KIOSK
    plant = factory.SubFactory(PlantFactory)
    requested_date = factory.LazyFunction(lambda: timezone.now().date())
    window_from = dt.time(8, 0)
    window_to = dt.time(10, 0)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


def add_line(
    order: Order, product: Product, quantity: str, *, position: int | None = None, released="0"
) -> OrderLine:
    """An order line with its allocation (stocked products allocate at the order's plant)."""
    quantity_d = Decimal(quantity)
    product.refresh_from_db()
    position = position or (order.lines.count() + 1)
    line = OrderLine.objects.create(
        order=order,
        position=position,
        product=product,
        sku=product.sku,
        description=product.name,
        unit=product.unit,
        unit_price=product.unit_price,
        vat_rate=product.vat_rate,
        stocked=product.stocked,
        quantity=quantity_d,
        allocated=quantity_d if product.stocked else Decimal("0"),
        released=Decimal(released),
        net=(quantity_d * product.unit_price).quantize(Decimal("0.01")),
        tax=(quantity_d * product.unit_price * product.vat_rate / 100).quantize(Decimal("0.01")),
    )
    if product.stocked:
        level, _ = StockLevel.objects.get_or_create(
            plant=order.plant, product=product, defaults={"on_hand": Decimal("100.000")}
        )
        StockLevel.objects.filter(pk=level.pk).update(allocated=level.allocated + quantity_d)
    order.refresh_from_db()
    return line


class TourFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tour

    number = factory.Sequence(lambda n: f"TOUR-T{n:05d}")
    date = factory.LazyFunction(lambda: timezone.now().date())
    plant = factory.SubFactory(PlantFactory)
    truck = factory.SubFactory(TruckFactory, plant=factory.SelfAttribute("..plant"))
    driver = factory.SubFactory(DriverFactory, plant=factory.SelfAttribute("..plant"))


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    plant = factory.SubFactory(PlantFactory)
    ticket = factory.Sequence(lambda n: f"TK-T{n:06d}")


def add_job_line(job: Job, order_line: OrderLine, planned: str) -> JobLine:
    return JobLine.objects.create(job=job, order_line=order_line, planned=Decimal(planned))
