"""`seed_demo [--size small|large] [--if-empty]`: realistic demo data (fleet/seed.py for master data and orders, fleet/demo.py for tours)."""

from __future__ import annotations

import random
import time

from django.core.management.base import BaseCommand

from fleet import demo as fleet_demo
from fleet import seed as demo
from orders.models import Order

SIZES = {
    # customers, orders, orders of the first ("heavy") customer
    "small": (200, 2000, 50),
    "large": (20000, 1_000_000, 5000),
}


class Command(BaseCommand):
    help = "Seed demo plants, fleet, catalog, stock, customers and orders across every channel."

    def add_arguments(self, parser):
        parser.add_argument("--size", choices=SIZES, default="small")
        parser.add_argument("--if-empty", action="store_true", help="Do nothing when orders already exist.")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, size, if_empty, seed, **options):
        if if_empty and Order.objects.exists():
            self.stdout.write("seed_demo: orders exist, nothing to do")
            return
        started = time.monotonic()
        rng = random.Random(seed)
        customers, orders, heavy = SIZES[size]
        demo.seed_master_data(rng, customers=customers)
        made = demo.seed_orders(
            rng, count=orders, heavy_customer_orders=heavy, chunk=10000 if size == "large" else 1000
        )
        jobs = fleet_demo.seed_tours(rng)
        elapsed = time.monotonic() - started
        self.stdout.write(f"seed_demo: {made} orders, {jobs} jobs, {customers} customers in {elapsed:.1f} s")
