"""`seed_demo` builds a consistent demo world on PostgreSQL (here) and on SQLite (subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db.models import F, Sum

from catalog.models import Plant, Product, StockLevel
from customers.models import Customer, Site
from fleet.models import Driver, Job, Tour, Truck
from orders.models import Channel, Order, OrderEvent, OrderLine, OrderStatus, SalesPoint

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_small_demo_has_every_channel_and_consistent_stock_and_totals():
    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert out.getvalue().startswith("seed_demo: 2000 orders, ")
    assert (Plant.objects.count(), Product.objects.count(), Customer.objects.count()) == (3, 30, 200)
    assert (Truck.objects.count(), Driver.objects.count(), SalesPoint.objects.count()) == (12, 12, 6)
    assert Site.objects.filter(customer__isnull=False).count() >= 200
    assert Order.objects.count() == 2000
    assert set(Order.objects.values_list("channel", flat=True)) == set(Channel.values)
    assert {OrderStatus.PLACED, OrderStatus.CONFIRMED, OrderStatus.DELIVERED, OrderStatus.CANCELLED} <= set(
        Order.objects.values_list("status", flat=True)
    )
    # Every order has a placed event, its lines, and totals that are the sums of its lines.
    assert OrderEvent.objects.filter(type="order.placed").count() == 2000
    mismatched = (
        Order.objects.annotate(lines_net=Sum("lines__net"), lines_tax=Sum("lines__tax"))
        .exclude(
            net_total=F("lines_net"), tax_total=F("lines_tax"), gross_total=F("lines_net") + F("lines_tax")
        )
        .count()
    )
    assert mismatched == 0
    # Stock: allocated is exactly what open orders hold, and never above on hand.
    assert StockLevel.objects.filter(allocated__gt=F("on_hand")).count() == 0
    held = OrderLine.objects.filter(stocked=True).aggregate(total=Sum("allocated"))["total"]
    assert StockLevel.objects.aggregate(total=Sum("allocated"))["total"] == held > Decimal(0)
    # Today's board has tours with jobs on them.
    assert Tour.objects.count() > 0
    assert Job.objects.filter(tour__isnull=False).count() == Job.objects.count() > 0


@pytest.mark.django_db(transaction=True)
def test_if_empty_leaves_an_existing_demo_alone():
    call_command("seed_demo", stdout=StringIO())
    out = StringIO()

    call_command("seed_demo", "--if-empty", stdout=out)

    assert out.getvalue().strip() == "seed_demo: orders exist, nothing to do"
    assert Order.objects.count() == 2000


def test_demo_seeds_on_sqlite_too(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "DJANGO_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "OMS_VAR_DIR": str(tmp_path / "var"),
        "CELERY_BROKER_URL": "filesystem://",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    migrated = manage("migrate", "--no-input", "-v", "0")
    assert migrated.returncode == 0, migrated.stderr
    seeded = manage("seed_demo")
    assert seeded.returncode == 0, seeded.stderr
    assert seeded.stdout.startswith("seed_demo: 2000 orders, ")
    counted = manage("shell", "-c", "from orders.models import Order; print(Order.objects.count())")
    assert counted.stdout.strip().splitlines()[-1] == "2000"
