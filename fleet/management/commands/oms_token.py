"""`oms_token --sales-point CODE | --driver CODE`: issue a new API key and print only the key."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fleet.models import Driver
from fleet.services.keys import driver_key_issue
from orders.models import SalesPoint
from orders.services.clients import api_client_issue


class Command(BaseCommand):
    help = (
        "Issue a new key for a sales point (kiosk / store POS) or a driver. The key is printed once and "
        "stored hashed; older keys stay valid until revoked in the admin."
    )

    def add_arguments(self, parser):
        owner = parser.add_mutually_exclusive_group(required=True)
        owner.add_argument("--sales-point", dest="sales_point", metavar="CODE")
        owner.add_argument("--driver", metavar="CODE")
        parser.add_argument("--name", default="", help="A label for the key (e.g. the device).")

    def handle(self, sales_point=None, driver=None, name="", **options):
        if sales_point:
            point = SalesPoint.objects.filter(code=sales_point.strip()).first()
            if point is None:
                raise CommandError(f"No sales point {sales_point}.")
            if not point.active:
                raise CommandError(f"Sales point {point.code} is inactive.")
            _, key = api_client_issue(sales_point=point, name=name[:200])
        else:
            the_driver = Driver.objects.filter(code=driver.strip()).first()
            if the_driver is None:
                raise CommandError(f"No driver {driver}.")
            if not the_driver.active:
                raise CommandError(f"Driver {the_driver.code} is inactive.")
            _, key = driver_key_issue(driver=the_driver, name=name[:200])
        self.stdout.write(key)
