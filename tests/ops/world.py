"""The data an operations test needs in a database of its own, made by the project's own code in a
separate process (the test's Django talks to the test database, not to a private cluster):

    DATABASE_URL=… python -m tests.ops.world seed [--erp-url URL] [--stock T] [--scarce T]
    DATABASE_URL=… python -m tests.ops.world deliver ORDER_NUMBER

Each prints one JSON object: `seed` the keys and ids the API clients need, `deliver` the job of the
order, planned on a released tour of the seeded truck and driver.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from decimal import Decimal

KIOSK = "KIOSK-OPS-01"
PLANT = "SOF"
CUSTOMER = "C-100001"
DISPATCH = "dispatcher@oms.example"


def seed(*, erp_url: str | None, stock: str, scarce: str) -> dict:
    from erp_sync import secrets
    from oms.models import ErpSystem
    from orders.models import Channel
    from tests import factories
    from tests.erp_sync.fake_erp import SECRET, TOKEN
    from tests.helpers import device_key, driver_key

    plant = factories.PlantFactory(code=PLANT, name="Sofia plant", lat=42.70, lon=23.32)
    for sku, on_hand in (("GRAVEL", stock), ("SCARCE", scarce)):
        product = factories.ProductFactory(
            sku=sku,
            name=f"{sku.title()} 4-16",
            unit="t",
            unit_price=Decimal("10.00"),
            vat_rate=Decimal("20.00"),
        )
        factories.StockLevelFactory(plant=plant, product=product, on_hand=Decimal(on_hand))
    customer = factories.CustomerFactory(
        number=CUSTOMER, name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
    )
    site = factories.SiteFactory(customer=customer, name="Lozenets house", address="12 Cherni Vrah Blvd")
    kiosk = factories.SalesPointFactory(code=KIOSK, name="Kiosk ops", channel=Channel.KIOSK, plant=plant)
    truck = factories.TruckFactory(code="TRK-01", plant=plant, capacity=Decimal("10.000"))
    driver = factories.DriverFactory(code="DRV-01", name="Georgi Ivanov", plant=plant)
    if erp_url:
        ErpSystem.objects.create(
            code="ERP1",
            name="ERP one",
            adapter=ErpSystem.Adapter.HTTP_JSON,
            base_url=erp_url,
            token_encrypted=secrets.encrypt(TOKEN),
            secret_encrypted=secrets.encrypt(SECRET),
            is_default=True,
            poll_seconds=1,
        )
    return {
        "kiosk_key": device_key(kiosk),
        "driver_key": driver_key(driver),
        "customer": customer.number,
        "site": str(site.public_id),
        "truck": truck.code,
    }


def deliver(number: str) -> dict:
    from catalog.models import Plant
    from fleet.models import Driver, Truck
    from fleet.selectors import driver_today
    from fleet.services import job_assign, order_split_into_jobs, tour_plan, tour_release
    from oms.lib.actors import Actor
    from orders.models import Order

    actor = Actor(kind="user", name=DISPATCH)
    order = Order.objects.get(number=number)
    driver = Driver.objects.get(code="DRV-01")
    tour = tour_plan(
        plant=Plant.objects.get(code=PLANT),
        truck=Truck.objects.get(code="TRK-01"),
        driver=driver,
        date=driver_today(driver),
        actor=actor,
    )
    (job,) = order_split_into_jobs(order=order, actor=actor)
    job_assign(job=job, tour=tour, actor=actor)
    tour_release(tour=tour, actor=actor)
    return {"job": str(job.public_id), "ticket": job.ticket, "tour": tour.number}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.ops.world")
    commands = parser.add_subparsers(dest="command", required=True)
    seeding = commands.add_parser("seed")
    seeding.add_argument("--erp-url")
    seeding.add_argument("--stock", default="100000")
    seeding.add_argument("--scarce", default="10")
    delivering = commands.add_parser("deliver")
    delivering.add_argument("order")
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings")
    import django

    django.setup()
    from django.db import transaction

    with transaction.atomic():
        if args.command == "seed":
            result = seed(erp_url=args.erp_url, stock=args.stock, scarce=args.scarce)
        else:
            result = deliver(args.order)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
