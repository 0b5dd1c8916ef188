"""`oms_sales_point CODE --channel kiosk|storefront --plant PLANT [--name NAME]` (idempotent)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from catalog.models import Plant
from orders.models import Channel, SalesPoint

CHANNELS = [Channel.KIOSK.value, Channel.STOREFRONT.value]


class Command(BaseCommand):
    help = "Create or update a sales point (store POS or kiosk). Prints one line."

    def add_arguments(self, parser):
        parser.add_argument("code")
        parser.add_argument("--channel", required=True, choices=CHANNELS)
        parser.add_argument("--plant", required=True, help="Code of the fulfilling plant.")
        parser.add_argument("--name", help="Display name (defaults to the code).")

    def handle(self, code, channel, plant, name=None, **options):
        code = code.strip()
        if not code or len(code) > 40:
            raise CommandError("CODE must be 1 to 40 characters.")
        if name is not None and len(name) > 200:
            raise CommandError("NAME must be at most 200 characters.")
        the_plant = Plant.objects.filter(code=plant.strip()).first()
        if the_plant is None:
            raise CommandError(f"No plant {plant}.")
        wanted = {"channel": channel, "plant": the_plant, "active": True}
        try:
            with transaction.atomic():
                point, created = SalesPoint.objects.select_for_update().get_or_create(
                    code=code, defaults={**wanted, "name": name or code}
                )
                if name is not None:
                    wanted["name"] = name
                changed = [field for field, value in wanted.items() if getattr(point, field) != value]
                if not created and changed:
                    for field in changed:
                        setattr(point, field, wanted[field])
                    point.save(update_fields=changed)
        except IntegrityError as exc:  # a concurrent run created it first: that run did the work
            raise CommandError(f"Sales point {code} was created concurrently; run again.") from exc
        verb = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(
            f"{verb} sales point {point.code} channel={point.channel} plant={the_plant.code} name={point.name}"
        )
