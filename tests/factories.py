"""The factories of the test suite: one per model, each with one documented default.

A default is whatever a test does not care about. A test that depends on a value — a code it
asserts, a price it multiplies, a capacity it fills — passes that value explicitly, so the test
reads on its own. tests/conftest.py exposes every factory as a fixture (`plant_factory`, …) and
builds the shared fixtures (`plant`, `customer`, `site`, `driver`, `world`) from them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from catalog.models import Plant, Product, StockLevel, Unit
from customers.models import Customer, Site
from fleet.models import Driver, Job, JobLine, Tour, Truck
from fleet.services.common import job_delivered_m3_refresh
from oms.models import ErpSystem
from orders.models import Channel, Order, OrderLine, OrderStatus, SalesPoint

# --- platform ---------------------------------------------------------------------------------------


class UserFactory(factory.django.DjangoModelFactory):
    """A user `rep<n>` with the e-mail `<username>@example.com`; no staff flag, no groups, no password."""

    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"rep{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


class ErpSystemFactory(factory.django.DjangoModelFactory):
    """An ERP system `ERP<n>` ("ERP<n> system") with the model's defaults: no adapter settings, not default."""

    class Meta:
        model = ErpSystem

    code = factory.Sequence(lambda n: f"ERP{n}")
    name = factory.LazyAttribute(lambda e: f"{e.code} system")


# --- catalog ----------------------------------------------------------------------------------------


class PlantFactory(factory.django.DjangoModelFactory):
    """A plant `P<nnn>` ("Plant P<nnn>") in the centre of Sofia (42.6977, 23.3219), Europe/Sofia time."""

    class Meta:
        model = Plant

    code = factory.Sequence(lambda n: f"P{n:03d}")
    name = factory.LazyAttribute(lambda p: f"Plant {p.code}")
    lat = 42.6977
    lon = 23.3219
    timezone = "Europe/Sofia"


class ProductFactory(factory.django.DjangoModelFactory):
    """An active, stocked product `SKU-<nnnnn>` sold by the tonne at 10.00 with 20 % VAT."""

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
    """100 on hand, nothing allocated, of a new product at a new plant."""

    class Meta:
        model = StockLevel

    plant = factory.SubFactory(PlantFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = Decimal("100.000")
    allocated = Decimal("0.000")


# --- customers --------------------------------------------------------------------------------------


class CustomerFactory(factory.django.DjangoModelFactory):
    """Customer `C-9<nnnnn>` "Customer <n>", customer<n>@example.com, +359888<nnnnnn>."""

    class Meta:
        model = Customer

    number = factory.Sequence(lambda n: f"C-9{n:05d}")
    name = factory.Sequence(lambda n: f"Customer {n}")
    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    phone = factory.Sequence(lambda n: f"+359888{n:06d}")


class SiteFactory(factory.django.DjangoModelFactory):
    """Site "Site <n>" of a new customer at "<n> Vitosha Blvd", 1000 Sofia, BG (42.70, 23.32)."""

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


# --- orders -----------------------------------------------------------------------------------------


class SalesPointFactory(factory.django.DjangoModelFactory):
    """An active kiosk `KIOSK-<nnn>` ("Kiosk KIOSK-<nnn>") at a new plant."""

    class Meta:
        model = SalesPoint

    code = factory.Sequence(lambda n: f"KIOSK-{n:03d}")
    name = factory.LazyAttribute(lambda s: f"Kiosk {s.code}")
    channel = Channel.KIOSK
    plant = factory.SubFactory(PlantFactory)


class OrderFactory(factory.django.DjangoModelFactory):
    """A placed web order `ORD-TEST-<nnnnnn>` of a new customer for today at a new plant, written
    directly: no site, no address, no window, no lines, no stock, no events (for state-machine tests
    and rows the services read). `add_line` adds a line with its allocation."""

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
    """1 of a new product on a new order, priced from the product, nothing allocated, tax 0.00."""

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


def add_line(
    order: Order, product: Product, quantity: str, *, position: int | None = None, released="0"
) -> OrderLine:
    """An order line as placement writes it: priced and taxed from the product, and, for a stocked
    product, allocated at the order's plant (a missing stock row is created with 100 on hand)."""
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


# --- fleet ------------------------------------------------------------------------------------------


class TruckFactory(factory.django.DjangoModelFactory):
    """Truck `TRK-<nnn>`, plate CA<nnnn>AB, 8.000 capacity, at a new plant; never seen (no position)."""

    class Meta:
        model = Truck

    code = factory.Sequence(lambda n: f"TRK-{n:03d}")
    plate = factory.Sequence(lambda n: f"CA{n:04d}AB")
    plant = factory.SubFactory(PlantFactory)
    capacity = Decimal("8.000")


class DriverFactory(factory.django.DjangoModelFactory):
    """Driver `DRV-<nnn>` "Driver Number<n>", phone +359888000111, at a new plant."""

    class Meta:
        model = Driver

    code = factory.Sequence(lambda n: f"DRV-{n:03d}")
    name = factory.Sequence(lambda n: f"Driver Number{n}")
    phone = "+359888000111"
    plant = factory.SubFactory(PlantFactory)


class TourFactory(factory.django.DjangoModelFactory):
    """A planned tour `TOUR-T<nnnnn>` for today, with a new truck and driver of its plant."""

    class Meta:
        model = Tour

    number = factory.Sequence(lambda n: f"TOUR-T{n:05d}")
    date = factory.LazyFunction(lambda: timezone.now().date())
    plant = factory.SubFactory(PlantFactory)
    truck = factory.SubFactory(TruckFactory, plant=factory.SelfAttribute("..plant"))
    driver = factory.SubFactory(DriverFactory, plant=factory.SelfAttribute("..plant"))


class JobFactory(factory.django.DjangoModelFactory):
    """A planned delivery job `TK-T<nnnnnn>` at a new plant: no order, no tour, no lines."""

    class Meta:
        model = Job

    plant = factory.SubFactory(PlantFactory)
    ticket = factory.Sequence(lambda n: f"TK-T{n:06d}")


class JobLineFactory(factory.django.DjangoModelFactory):
    """The whole quantity of an order line planned on a job (pass both, of the same order); a
    delivered quantity counts in the job's m³ as the fleet services would count it."""

    class Meta:
        model = JobLine
        skip_postgeneration_save = True

    job = factory.SubFactory(JobFactory)
    order_line = factory.SubFactory(OrderLineFactory)
    planned = factory.LazyAttribute(lambda job_line: job_line.order_line.quantity)

    @factory.post_generation
    def delivered_m3(job_line, create, extracted, **kwargs):
        if create:
            job_delivered_m3_refresh(job_line.job)
