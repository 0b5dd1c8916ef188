"""Realistic demo data: plants, fleet, catalog, stock, customers, orders from every channel.

Master data goes through plain model saves (it is what an ERP would send); orders are generated in
bulk (`bulk_create` in chunks) so that `--size large` (1,000,000 orders) stays within minutes. A
handful of orders are placed through `order_place` too, so the demo shows the real pipeline.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from catalog.models import Plant, Product, StockLevel
from customers.models import Customer, Site
from fleet.models import Driver, Truck
from oms.lib.bulk import reserve_ids
from oms.lib.sequences import next_values
from orders.models import (
    Channel,
    ErpSyncState,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    SalesPoint,
    new_tracking_token,
)

PLANTS = [
    ("SOF1", "Sofia North", "bul. Lomsko shose 200, Sofia", 42.7450, 23.2800),
    ("PLV1", "Plovdiv East", "bul. Asenovgradsko shose 15, Plovdiv", 42.1300, 24.7900),
    ("VAR1", "Varna Port", "ul. Pristanishtna 8, Varna", 43.1950, 27.8900),
]
PRODUCTS = [
    # sku, name, unit, price, stocked
    ("C20-25", "Ready-mix concrete C20/25", "m3", "88.00", False),
    ("C25-30", "Ready-mix concrete C25/30", "m3", "95.00", False),
    ("C30-37", "Ready-mix concrete C30/37", "m3", "104.00", False),
    ("C35-45", "Ready-mix concrete C35/45", "m3", "118.00", False),
    ("SCREED", "Floor screed CT-C20", "m3", "79.00", False),
    ("PUMP-H", "Concrete pump, per hour", "pcs", "140.00", False),
    ("AGG-0-4", "Sand 0-4 mm", "t", "14.50", True),
    ("AGG-4-8", "Gravel 4-8 mm", "t", "16.20", True),
    ("AGG-8-16", "Gravel 8-16 mm", "t", "16.80", True),
    ("AGG-16-32", "Gravel 16-32 mm", "t", "17.40", True),
    ("AGG-0-32", "Crushed stone 0-32 mm", "t", "13.90", True),
    ("AGG-0-63", "Crushed stone 0-63 mm", "t", "12.70", True),
    ("SAND-W", "Washed sand", "t", "18.90", True),
    ("SAND-P", "Plaster sand", "t", "21.50", True),
    ("CEM-42-25", "Cement CEM II 42.5, 25 kg", "bag", "7.40", True),
    ("CEM-52-25", "Cement CEM I 52.5, 25 kg", "bag", "8.90", True),
    ("CEM-BULK", "Cement CEM II 42.5, bulk", "t", "165.00", True),
    ("LIME-25", "Hydrated lime, 25 kg", "bag", "6.10", True),
    ("MORT-M5", "Masonry mortar M5, 25 kg", "bag", "4.80", True),
    ("MORT-M10", "Masonry mortar M10, 25 kg", "bag", "5.60", True),
    ("ADH-TILE", "Tile adhesive C1, 25 kg", "bag", "9.90", True),
    ("BLK-25", "Concrete block 25 cm", "pcs", "1.95", True),
    ("BLK-20", "Concrete block 20 cm", "pcs", "1.65", True),
    ("KERB-100", "Kerb stone 100×15×25", "pcs", "6.80", True),
    ("PAVE-6", "Paving stone 6 cm, per m2", "pcs", "13.20", True),
    ("REBAR-12", "Rebar B500B Ø12, 12 m", "pcs", "11.40", True),
    ("MESH-150", "Welded mesh 150/150/6", "pcs", "24.50", True),
    ("PAL-EUR", "Euro pallet (returnable)", "pallet", "12.00", True),
    ("FLOW-ADD", "Plasticiser admixture", "l", "3.20", True),
    ("FIBRE-PP", "Polypropylene fibre, 1 kg", "kg", "9.60", True),
]
FIRST = [
    "Ivan",
    "Georgi",
    "Maria",
    "Elena",
    "Dimitar",
    "Nikolay",
    "Petya",
    "Stoyan",
    "Kalina",
    "Todor",
    "Vesela",
]
LAST = ["Petrov", "Ivanova", "Georgiev", "Dimitrova", "Stoyanov", "Nikolova", "Todorov", "Kolev", "Angelova"]
COMPANIES = ["Stroy", "Build", "Beton", "Dom", "Most", "Terra", "Granit", "Arka", "Vitosha", "Rila", "Pirin"]
SUFFIX = ["OOD", "EOOD", "AD", "Invest", "Engineering", "Construction"]
STREETS = [
    "ul. Vitosha",
    "bul. Bulgaria",
    "ul. Rakovski",
    "bul. Tsar Osvoboditel",
    "ul. Shipka",
    "ul. Oborishte",
]

# status → share of the demo orders (the rest are placed)
STATUS_MIX = [
    (OrderStatus.PLACED, 10),
    (OrderStatus.CONFIRMED, 20),
    (OrderStatus.SCHEDULED, 10),
    (OrderStatus.IN_DELIVERY, 5),
    (OrderStatus.PARTIALLY_DELIVERED, 3),
    (OrderStatus.DELIVERED, 15),
    (OrderStatus.COMPLETED, 27),
    (OrderStatus.ON_HOLD, 2),
    (OrderStatus.CANCELLATION_REQUESTED, 1),
    (OrderStatus.CANCELLED, 6),
    (OrderStatus.REJECTED, 1),
]
CHANNEL_MIX = [
    (Channel.STOREFRONT, 25),
    (Channel.WEB, 25),
    (Channel.PHONE, 20),
    (Channel.KIOSK, 15),
    (Channel.ERP, 15),
]
OPEN = {
    OrderStatus.PLACED,
    OrderStatus.CONFIRMED,
    OrderStatus.SCHEDULED,
    OrderStatus.ON_HOLD,
    OrderStatus.IN_DELIVERY,
    OrderStatus.PARTIALLY_DELIVERED,
    OrderStatus.CANCELLATION_REQUESTED,
}
CENT = Decimal("0.01")
MILLI = Decimal("0.001")
EXTERNAL_REF_CHANNELS = {Channel.KIOSK, Channel.STOREFRONT, Channel.ERP}
LOADING_STARTED = {
    OrderStatus.IN_DELIVERY,
    OrderStatus.PARTIALLY_DELIVERED,
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
    OrderStatus.CANCELLATION_REQUESTED,
}


def _weighted(rng: random.Random, mix):
    values, weights = zip(*mix, strict=True)
    return rng.choices(values, weights=weights)[0]


def seed_master_data(rng: random.Random, *, customers: int) -> dict:
    plants = []
    for code, name, address, lat, lon in PLANTS:
        plant, _ = Plant.objects.update_or_create(
            code=code,
            defaults={"name": name, "address": address, "lat": lat, "lon": lon, "timezone": "Europe/Sofia"},
        )
        plants.append(plant)
    products = []
    for sku, name, unit, price, stocked in PRODUCTS:
        product, _ = Product.objects.update_or_create(
            sku=sku,
            defaults={
                "name": name,
                "unit": unit,
                "unit_price": Decimal(price),
                "vat_rate": Decimal("20.00"),
                "stocked": stocked,
            },
        )
        products.append(product)
    for plant in plants:
        for product in products:
            if product.stocked:
                StockLevel.objects.get_or_create(
                    plant=plant, product=product, defaults={"on_hand": Decimal(rng.randrange(400, 5000))}
                )
    for plant in plants:
        for i in range(1, 5):
            Truck.objects.get_or_create(
                code=f"TRK-{plant.code}-{i:02d}",
                defaults={
                    "plant": plant,
                    "plate": f"CB{rng.randrange(1000, 9999)}AB",
                    "capacity": Decimal("8.000") if i % 2 else Decimal("25.000"),
                    "unit": "m3" if i % 2 else "t",
                },
            )
            Driver.objects.get_or_create(
                code=f"DRV-{plant.code}-{i:02d}",
                defaults={
                    "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    "plant": plant,
                    "phone": f"+35988{rng.randrange(1000000, 9999999)}",
                },
            )
        SalesPoint.objects.get_or_create(
            code=f"KIOSK-{plant.code}-01",
            defaults={"name": f"Kiosk {plant.name}", "channel": "kiosk", "plant": plant},
        )
        SalesPoint.objects.get_or_create(
            code=f"POS-{plant.code}",
            defaults={"name": f"Store {plant.name}", "channel": "storefront", "plant": plant},
        )
    existing = Customer.objects.count()
    new = max(customers - existing, 0)
    numbers = next_values("customer_number", new)
    batch = []
    for i, value in enumerate(numbers):
        company = rng.random() < 0.4
        name = (
            f"{rng.choice(COMPANIES)}{rng.choice(COMPANIES).lower()} {rng.choice(SUFFIX)}"
            if company
            else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        )
        batch.append(
            Customer(
                number=f"C-{value:06d}",
                kind="company" if company else "person",
                name=name,
                email=f"customer{value}@example.com",
                phone=f"+3598{value % 10}{1000000 + value:07d}"[:13],
                vat_id=f"BG{200000000 + value}" if company else "",
                language="bg" if i % 3 else "en",
                default_plant=plants[i % len(plants)],
            )
        )
    Customer.objects.bulk_create(batch, batch_size=2000)
    customers_qs = list(Customer.objects.order_by("pk"))
    sites = []
    for customer in customers_qs:
        if not customer.sites.exists():
            plant = customer.default_plant or plants[0]
            for j in range(rng.randint(1, 3)):
                sites.append(
                    Site(
                        customer=customer,
                        name=f"Site {j + 1}",
                        address=f"{rng.choice(STREETS)} {rng.randrange(1, 150)}",
                        city=plant.name.split()[0],
                        postcode=str(rng.randrange(1000, 9999)),
                        country="BG",
                        lat=(plant.lat or 42.7) + rng.uniform(-0.15, 0.15),
                        lon=(plant.lon or 23.3) + rng.uniform(-0.2, 0.2),
                    )
                )
    Site.objects.bulk_create(sites, batch_size=2000)
    return {"plants": plants, "products": products, "customers": customers_qs}


def _insert(model, rows: list[dict]) -> None:
    """Insert plain rows: PostgreSQL COPY (1,000,000 orders in minutes), else `bulk_create`."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows], batch_size=500)
        return
    # Columns the generator does not set get their model default (COPY would leave them NULL).
    missing = [
        f
        for f in model._meta.concrete_fields
        if f.attname not in rows[0] and not f.primary_key and f.has_default()
    ]
    if missing:
        rows = [{**row, **{f.attname: f.get_default() for f in missing}} for row in rows]
    columns = list(rows[0])
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict) else v for v in row.values()])


def _next_ids(model, count: int) -> list[int]:
    """Primary keys reserved ahead, so that lines and events can point at orders inserted by COPY."""
    if connection.vendor != "postgresql":
        last = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        return list(range(last + 1, last + count + 1))
    return reserve_ids(model, count)


def seed_orders(rng: random.Random, *, count: int, chunk: int = 5000, heavy_customer_orders: int = 0) -> int:
    """Generate `count` orders (1–3 lines, timeline events) spread over channels and statuses."""
    plants = list(Plant.objects.filter(active=True))
    products = list(Product.objects.filter(active=True))
    sales_points = {p.pk: {sp.channel: sp.pk for sp in p.sales_points.all()} for p in plants}
    customer_ids = list(Customer.objects.values_list("pk", flat=True))
    sites_by_customer: dict[int, list[Site]] = {}
    for site in Site.objects.all():
        sites_by_customer.setdefault(site.customer_id, []).append(site)
    now = timezone.now()
    zero = Decimal("0.000")
    made = 0
    while made < count:
        n = min(chunk, count - made)
        with transaction.atomic():
            numbers = next_values("order_number", n)
            ids = _next_ids(Order, n)
            orders, lines, events = [], [], []
            for k, (value, order_id) in enumerate(zip(numbers, ids, strict=True)):
                customer_id = (
                    customer_ids[0] if made + k < heavy_customer_orders else rng.choice(customer_ids)
                )
                status = _weighted(rng, STATUS_MIX)
                channel = _weighted(rng, CHANNEL_MIX)
                plant = rng.choice(plants)
                created = now - timedelta(days=rng.uniform(0, 365), minutes=rng.randrange(0, 600))
                site = rng.choice(sites_by_customer.get(customer_id) or [None])
                requested = (created + timedelta(days=rng.randint(0, 5))).date()
                if status in OPEN:
                    created = now - timedelta(hours=rng.uniform(1, 72))
                    requested = (now + timedelta(days=rng.randint(0, 3))).date()
                net_total = tax_total = Decimal("0.00")
                for position, product in enumerate(rng.sample(products, rng.randint(1, 3)), start=1):
                    bulk = product.unit in ("m3", "t")
                    quantity = Decimal(rng.randint(1, 20) if bulk else rng.randint(5, 200)).quantize(MILLI)
                    net = (quantity * product.unit_price).quantize(CENT, ROUND_HALF_UP)
                    tax = (net * product.vat_rate / 100).quantize(CENT, ROUND_HALF_UP)
                    net_total += net
                    tax_total += tax
                    delivered = quantity if status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED) else zero
                    if status == OrderStatus.PARTIALLY_DELIVERED and position == 1:
                        delivered = (quantity / 2).quantize(MILLI)
                    open_stocked = product.stocked and status in OPEN
                    lines.append(
                        {
                            "order_id": order_id,
                            "position": position,
                            "product_id": product.pk,
                            "sku": product.sku,
                            "description": product.name,
                            "unit": product.unit,
                            "unit_price": product.unit_price,
                            "vat_rate": product.vat_rate,
                            "stocked": product.stocked,
                            "quantity": quantity,
                            "allocated": quantity - delivered if open_stocked else zero,
                            "released": zero,
                            "loaded": delivered,
                            "delivered": delivered,
                            "returned": zero,
                            "cancelled": quantity
                            if status in (OrderStatus.CANCELLED, OrderStatus.REJECTED)
                            else zero,
                            "net": net,
                            "tax": tax,
                        }
                    )
                acknowledged = status not in (OrderStatus.PLACED, OrderStatus.REJECTED, OrderStatus.ON_HOLD)
                orders.append(
                    {
                        "id": order_id,
                        "public_id": uuid.uuid4(),
                        "number": f"ORD-{created.year}-{value:06d}",
                        "tracking_token": new_tracking_token(),
                        "customer_id": customer_id,
                        "site_id": site.pk if site else None,
                        "address": site.snapshot() if site else {},
                        "channel": channel,
                        "sales_point_id": sales_points[plant.pk].get(channel),
                        "external_ref": f"{channel[:3].upper()}-{value:08d}"
                        if channel in EXTERNAL_REF_CHANNELS
                        else "",
                        "fulfilment": Fulfilment.DELIVERY if site else Fulfilment.PICKUP,
                        "status": status,
                        "status_before": OrderStatus.CONFIRMED
                        if status == OrderStatus.CANCELLATION_REQUESTED
                        else "",
                        "on_call": rng.random() < 0.05,
                        "requested_date": requested,
                        "window_from": time(rng.choice([7, 8, 10, 13])),
                        "window_to": time(rng.choice([15, 16, 17])),
                        "plant_id": plant.pk,
                        "currency": "EUR",
                        "net_total": net_total,
                        "tax_total": tax_total,
                        "gross_total": net_total + tax_total,
                        "notes": "",
                        "created_by_id": None,
                        "erp_system_id": None,
                        "erp_order_number": f"SO-{value}" if acknowledged else "",
                        "erp_sync_state": ErpSyncState.ACKNOWLEDGED if acknowledged else ErpSyncState.NONE,
                        "loading_started_at": created if status in LOADING_STARTED else None,
                        "version": 1 if status == OrderStatus.PLACED else 2,
                        "created_at": created,
                        "updated_at": created,
                    }
                )
                event = {
                    "order_id": order_id,
                    "actor_kind": "system",
                    "actor": "seed",
                    "channel": channel,
                    "visible_to_customer": True,
                    "outbox_message_id": None,
                }
                events.append({**event, "at": created, "type": "order.placed", "data": {"channel": channel}})
                if status != OrderStatus.PLACED:
                    events.append(
                        {
                            **event,
                            "at": created + timedelta(minutes=5),
                            "type": "order.status_changed",
                            "data": {"from": "placed", "to": status},
                        }
                    )
            _insert(Order, orders)
            _insert(OrderLine, lines)
            _insert(OrderEvent, events)
        made += n
    _sync_allocations()
    return made


def _sync_allocations() -> None:
    """Allocated stock = the open orders' allocations; on_hand is raised where it would be exceeded."""
    totals = (
        OrderLine.objects.filter(stocked=True, allocated__gt=0)
        .values("order__plant_id", "product_id")
        .annotate(total=Sum("allocated"))
    )
    with transaction.atomic():
        StockLevel.objects.update(allocated=0)
        for row in totals:
            level, _ = StockLevel.objects.get_or_create(
                plant_id=row["order__plant_id"], product_id=row["product_id"]
            )
            StockLevel.objects.filter(pk=level.pk).update(
                allocated=row["total"], on_hand=Greatest(F("on_hand"), Value(row["total"] + 100))
            )
