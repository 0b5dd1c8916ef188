"""`order_place`: the one entry point for every channel (storefront, web, phone, kiosk, erp).

validate → resolve customer and site → price lines → choose the plant → allocate stock (locked, all
or nothing) → order, lines, `order.placed` event, outbox `order.created` — in one transaction, with a
constant number of queries whatever the number of lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.models import Plant, Product, StockLevel
from catalog.services import stock_allocate, stock_allocate_many
from customers.models import Customer, Site
from customers.services import (
    CustomerData,
    SiteData,
    customer_get_or_create,
    customer_resolve,
    site_build,
    site_create,
    site_for_customer,
)
from oms.exceptions import DuplicateExternalRef, ValidationError
from oms.lib.actors import Actor
from oms.lib.bulk import bulk_insert, fetch_where, insert_all, insert_one, insert_rows
from oms.lib.sequences import next_value, next_values
from orders.models import (
    ZERO_QTY,
    Channel,
    ErpSyncState,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    SalesPoint,
)
from orders.payloads import order_created
from orders.services.events import order_event
from orders.state import order_transition

MAX_LINES = 100
MAX_QUANTITY = Decimal("1000000")
MAX_PRICE = Decimal("1000000")
# Order totals are stored with 14 digits (2 decimals): refuse what would not fit instead of failing on save.
MAX_TOTAL = Decimal("999999999999.99")
TOTAL_TOO_LARGE = gettext_noop("The order total is too large.")
SALES_POINT_INACTIVE = gettext_noop("This sales point is not active.")
CENT = Decimal("0.01")
MILLI = Decimal("0.001")

LINES_REQUIRED = gettext_noop("An order needs 1 to 100 lines.")
QUANTITY_INVALID = gettext_noop("Quantity must be greater than 0 with at most 3 decimals.")
UNKNOWN_SKU = gettext_noop("Unknown or inactive product.")
SITE_REQUIRED = gettext_noop("A delivery needs a site.")
DATE_IN_PAST = gettext_noop("The requested date cannot be in the past.")
WINDOW_INVALID = gettext_noop("The window must end after it starts.")
TOO_LONG = "Ensure this field has no more than {n} characters."
NO_PLANT = gettext_noop("No active plant can serve this order.")
PRICE_INVALID = gettext_noop("Unit price must be a non-negative amount with at most 2 decimals.")


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: Decimal
    unit_price: Decimal | None = None  # only the ERP channel may set prices


@dataclass(frozen=True)
class CustomerRef:
    id: str | None = None
    number: str | None = None
    data: CustomerData | None = None
    customer: Customer | None = None


@dataclass(frozen=True)
class SiteRef:
    id: str | None = None
    data: SiteData | None = None


def is_quantity(value, *, allow_zero: bool = False) -> bool:
    """A finite Decimal above 0 (or 0 when allowed), below MAX_QUANTITY, with at most 3 decimals."""
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and (value >= 0 if allow_zero else value > 0)
        and value < MAX_QUANTITY
        and value == value.quantize(MILLI)
    )


def round_money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def plant_today(plant: Plant) -> date:
    try:
        zone = ZoneInfo(plant.timezone)
    except Exception:  # noqa: BLE001 - a bad zone name in master data falls back to UTC
        zone = ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date()


def _validate_shape(*, lines: list[LineInput], external_ref: str, notes: str, window_from, window_to) -> None:
    errors: dict[str, object] = {}
    if not 1 <= len(lines) <= MAX_LINES:
        errors["lines"] = [LINES_REQUIRED]
    else:
        line_errors: list[dict[str, list[str]]] = []
        for line in lines:
            problems: dict[str, list[str]] = {}
            q = line.quantity
            if (
                not isinstance(q, Decimal)
                or not q.is_finite()
                or q <= 0
                or q >= MAX_QUANTITY
                or q != q.quantize(MILLI)
            ):
                problems["quantity"] = [QUANTITY_INVALID]
            if not line.sku or len(line.sku) > 40:
                problems["sku"] = [UNKNOWN_SKU]
            price = line.unit_price
            # Whole cents only: the line stores the price with 2 decimals and its net must follow from it.
            if price is not None and (
                not price.is_finite() or price < 0 or price >= MAX_PRICE or price != price.quantize(CENT)
            ):
                problems["unit_price"] = [PRICE_INVALID]
            line_errors.append(problems)
        if any(line_errors):
            errors["lines"] = line_errors
    if len(external_ref or "") > 100:
        errors["external_ref"] = [TOO_LONG.format(n=100)]
    if len(notes or "") > 2000:
        errors["notes"] = [TOO_LONG.format(n=2000)]
    if window_from and window_to and window_to <= window_from:
        errors["window"] = [WINDOW_INVALID]
    if errors:
        raise ValidationError(errors=errors)


def _resolve_customer(ref: CustomerRef, actor: Actor) -> Customer:
    if ref.customer is not None:
        return ref.customer
    if ref.id or ref.number:
        return customer_resolve(id=ref.id, number=ref.number)
    if ref.data is not None:
        return customer_get_or_create(data=ref.data, actor=actor)
    raise ValidationError(errors={"customer": ["Give the customer's id, number, or name and contact."]})


def _resolve_site(customer: Customer, fulfilment: str, ref: SiteRef | None) -> Site | None:
    if fulfilment == Fulfilment.PICKUP:
        return None
    if ref is None or (ref.id is None and ref.data is None):
        raise ValidationError(SITE_REQUIRED, errors={"site": [SITE_REQUIRED]})
    if ref.id:
        return site_for_customer(customer=customer, site_id=ref.id)
    return site_create(customer=customer, data=ref.data)


def _distance_km(lat1, lon1, lat2, lon2) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


def choose_plant(*, customer: Customer, site: Site | None, needs: dict[int, Decimal]) -> Plant:
    """Nearest active plant that can serve every stocked line; else the customer's default; else nearest."""
    plants = list(Plant.objects.filter(active=True).order_by("code"))
    if not plants:
        raise ValidationError(NO_PLANT, errors={"plant": [NO_PLANT]})
    serving = {p.pk for p in plants}
    if needs:
        available: dict[tuple[int, int], Decimal] = {
            (plant_id, product_id): on_hand - allocated
            for plant_id, product_id, on_hand, allocated in StockLevel.objects.filter(
                plant_id__in=serving, product_id__in=needs
            ).values_list("plant_id", "product_id", "on_hand", "allocated")
        }
        serving = {
            p.pk
            for p in plants
            if all(available.get((p.pk, pid), ZERO_QTY) >= qty for pid, qty in needs.items())
        }

    def distance(plant: Plant) -> float:
        if site is None or site.lat is None or plant.lat is None:
            return math.inf
        return _distance_km(site.lat, site.lon, plant.lat, plant.lon)

    candidates = [p for p in plants if p.pk in serving]
    if candidates:
        if customer.default_plant_id in serving and (site is None or site.lat is None):
            return next(p for p in candidates if p.pk == customer.default_plant_id)
        return min(candidates, key=lambda p: (distance(p), p.code))
    default = next((p for p in plants if p.pk == customer.default_plant_id), None)
    return default or min(plants, key=lambda p: (distance(p), p.code))


def _priced_lines(
    lines: list[LineInput], products: dict[str, Product]
) -> tuple[list[OrderLine], Decimal, Decimal]:
    """Order lines with the price snapshot (the catalog's, or the ERP's own), and the net and tax totals."""
    order_lines: list[OrderLine] = []
    net_total = tax_total = Decimal("0.00")
    for position, line in enumerate(lines, start=1):
        product = products[line.sku]
        price = line.unit_price if line.unit_price is not None else product.unit_price
        net = round_money(line.quantity * price)
        tax = round_money(net * product.vat_rate / 100)
        net_total += net
        tax_total += tax
        order_lines.append(
            OrderLine(
                position=position,
                product=product,
                sku=product.sku,
                description=product.name,
                unit=product.unit,
                unit_price=price,
                vat_rate=product.vat_rate,
                stocked=product.stocked,
                quantity=line.quantity,
                allocated=line.quantity if product.stocked else ZERO_QTY,
                net=net,
                tax=tax,
            )
        )
    if net_total + tax_total > MAX_TOTAL:
        raise ValidationError(TOTAL_TOO_LARGE, errors={"lines": [TOTAL_TOO_LARGE]})
    return order_lines, net_total, tax_total


def order_number(value: int, when: datetime) -> str:
    return f"ORD-{when.year}-{value:06d}"


def order_place(
    *,
    channel: str,
    customer: CustomerRef,
    lines: list[LineInput],
    actor: Actor,
    fulfilment: str = Fulfilment.DELIVERY,
    site: SiteRef | None = None,
    requested_date: date | None = None,
    window_from: time | None = None,
    window_to: time | None = None,
    on_call: bool = False,
    external_ref: str = "",
    notes: str = "",
    sales_point: SalesPoint | None = None,
    plant: Plant | None = None,
    erp_system=None,
    erp_order_number: str = "",
    savepoint: bool = True,
) -> Order:
    """Place an order from any channel. One transaction; raises a DomainError and writes nothing on failure.

    Errors: ValidationError (fields), NotFound (customer id/number), InsufficientStock (409, per line
    availability), DuplicateExternalRef (409, `number` of the existing order).

    Inside a caller's transaction the placement runs in a savepoint, so that a caller may catch the
    error and go on. `savepoint=False` saves its two round trips for a caller whose transaction ends
    with any error raised here (the idempotent API request); a caught error then leaves that
    transaction unusable.
    """
    if channel not in Channel.values:
        raise ValidationError(errors={"channel": [f"Unknown channel {channel!r}."]})
    if sales_point is not None and (not sales_point.active or sales_point.channel != channel):
        raise ValidationError(SALES_POINT_INACTIVE, errors={"sales_point": [SALES_POINT_INACTIVE]})
    if fulfilment not in Fulfilment.values:
        raise ValidationError(errors={"fulfilment": ["Use delivery or pickup."]})
    external_ref = (external_ref or "").strip()
    _validate_shape(
        lines=lines, external_ref=external_ref, notes=notes, window_from=window_from, window_to=window_to
    )
    if channel != Channel.ERP and any(line.unit_price is not None for line in lines):
        raise ValidationError(errors={"lines": ["Prices are set by the catalog."]})

    with transaction.atomic(savepoint=savepoint):
        if external_ref:
            existing = Order.objects.filter(channel=channel, external_ref=external_ref).values_list(
                "number", flat=True
            )
            if number := existing.first():
                raise DuplicateExternalRef(extra={"number": number})
        the_customer = _resolve_customer(customer, actor)
        products = {p.sku: p for p in fetch_where(Product, sku={line.sku for line in lines}, active=True)}
        unknown = [{"sku": [UNKNOWN_SKU]} if line.sku not in products else {} for line in lines]
        if any(unknown):
            raise ValidationError(UNKNOWN_SKU, errors={"lines": unknown})
        the_site = _resolve_site(the_customer, fulfilment, site)
        needs: dict[int, Decimal] = {}
        for line in lines:
            product = products[line.sku]
            if product.stocked:
                needs[product.pk] = needs.get(product.pk, ZERO_QTY) + line.quantity
        if plant is None:
            plant = (
                sales_point.plant
                if sales_point is not None
                else choose_plant(customer=the_customer, site=the_site, needs=needs)
            )
        today = plant_today(plant)
        requested = requested_date or today
        if requested < today and channel != Channel.ERP:
            raise ValidationError(DATE_IN_PAST, errors={"requested_date": [DATE_IN_PAST]})

        now = timezone.now()
        order_lines, net_total, tax_total = _priced_lines(lines, products)
        order = Order(
            number=order_number(next_value("order_number"), now),
            customer=the_customer,
            site=the_site,
            address=the_site.snapshot() if the_site else {},
            channel=channel,
            sales_point=sales_point,
            external_ref=external_ref,
            fulfilment=fulfilment,
            on_call=on_call,
            requested_date=requested,
            window_from=window_from,
            window_to=window_to,
            plant=plant,
            net_total=net_total,
            tax_total=tax_total,
            gross_total=net_total + tax_total,
            notes=notes or "",
            created_by=actor.user,
            erp_system=erp_system,
            erp_order_number=erp_order_number,
            # Orders from OMS channels produce `order.created` below; ERP-keyed orders are the ERP's own.
            erp_sync_state=ErpSyncState.PENDING if channel != Channel.ERP else ErpSyncState.NONE,
            created_at=now,
            updated_at=now,
        )
        if not external_ref:
            insert_one(order)
        else:
            # A concurrent twin with the same reference may win the unique constraint: report its number.
            try:
                with transaction.atomic():
                    insert_one(order)
            except IntegrityError as exc:
                number = (
                    Order.objects.filter(channel=channel, external_ref=external_ref)
                    .values_list("number", flat=True)
                    .first()
                )
                if number:
                    raise DuplicateExternalRef(extra={"number": number}) from exc
                raise
        for order_line in order_lines:
            order_line.order = order
        insert_all(order_lines)
        # Seed the prefetch cache as `prefetch_related("lines")` would: the caller's `order.lines.all()`
        # (the API response, the payloads) answers from memory instead of reading the lines back.
        cached = order.lines.all()
        cached._result_cache, cached._prefetch_done = order_lines, True
        order._prefetched_objects_cache = {"lines": cached}

        payload = order_created(order, order_lines)
        event_actor = actor if actor.channel else Actor(actor.kind, actor.name, actor.user, channel)
        order_event(
            order,
            "order.placed",
            actor=event_actor,
            data={"channel": channel, "lines": len(order_lines), "gross": f"{order.gross_total:.2f}"},
            outbox_type="order.created" if channel != Channel.ERP else None,
            outbox_payload=payload,
        )
        if the_customer.credit_hold:
            order_transition(
                order,
                OrderStatus.ON_HOLD,
                actor=Actor.system(),
                data={"reason": "credit_hold"},
                event_type="order.held",
            )
        # Last: the stock rows stay locked until the commit, and every order of a product at a plant
        # waits for them. Short stock rolls back what was written above (the order number is spent).
        stock_allocate(plant_id=plant.pk, items=needs.items(), skus={p.pk: p.sku for p in products.values()})
    return order


@dataclass(frozen=True)
class ErpOrderInput:
    """One new ERP order for `erp_orders_import`: its customer already resolved, its site new."""

    customer: Customer
    site: SiteData
    lines: list[LineInput]
    requested_date: date
    erp_order_number: str
    plant: Plant | None = None
    window_from: time | None = None
    window_to: time | None = None
    on_call: bool = False
    notes: str = ""


CREDIT_HOLD_NOT_BULK = "A customer on credit hold gets held orders: place them one by one."


def erp_orders_import(*, orders: list[ErpOrderInput], erp_system, actor: Actor) -> list[Order]:
    """Place and confirm many new ERP orders at once: what `order_place` (channel erp) followed by
    `order_confirm` does for each, in a constant number of statements whatever their number.

    The rows are the same as one by one: site, order (confirmed, acknowledged), lines with the ERP's
    prices, stock allocation, and the events `order.placed`, `erp.acknowledged`, `order.confirmed`.
    All or nothing: raises a DomainError and writes nothing if any order cannot be placed (the caller
    then places them one by one to learn which); orders of a customer on credit hold are refused here.
    """
    if not orders:
        return []
    for item in orders:
        _validate_shape(
            lines=item.lines,
            external_ref=item.erp_order_number,
            notes=item.notes,
            window_from=item.window_from,
            window_to=item.window_to,
        )
        if item.customer.credit_hold:
            raise ValidationError(CREDIT_HOLD_NOT_BULK)
    refs = [item.erp_order_number.strip() for item in orders]
    if not all(refs) or len(set(refs)) != len(refs):
        raise ValidationError(errors={"external_ref": ["Each order needs its own ERP order number."]})

    with transaction.atomic():
        taken = Order.objects.filter(channel=Channel.ERP, external_ref__in=refs).values_list(
            "number", flat=True
        )
        if number := taken.first():
            raise DuplicateExternalRef(extra={"number": number})
        products = {
            p.sku: p
            for p in Product.objects.filter(
                sku__in={line.sku for item in orders for line in item.lines}, active=True
            )
        }
        if any(line.sku not in products for item in orders for line in item.lines):
            raise ValidationError(UNKNOWN_SKU)
        sites = [site_build(customer=item.customer, data=item.site) for item in orders]

        plants: list[Plant] = []
        allocations: dict[tuple[int, int], Decimal] = {}
        for item, site in zip(orders, sites, strict=True):
            needs: dict[int, Decimal] = {}
            for line in item.lines:
                product = products[line.sku]
                if product.stocked:
                    needs[product.pk] = needs.get(product.pk, ZERO_QTY) + line.quantity
            plant = item.plant or choose_plant(customer=item.customer, site=site, needs=needs)
            plants.append(plant)
            for product_id, quantity in needs.items():
                allocations[plant.pk, product_id] = (
                    allocations.get((plant.pk, product_id), ZERO_QTY) + quantity
                )
        now = timezone.now()
        placed: list[tuple[Order, list[OrderLine]]] = []
        for item, site, plant, value, ref in zip(
            orders, sites, plants, next_values("order_number", len(orders)), refs, strict=True
        ):
            order_lines, net_total, tax_total = _priced_lines(item.lines, products)
            order = Order(
                number=order_number(value, now),
                customer=item.customer,
                site=site,
                address=site.snapshot(),
                channel=Channel.ERP,
                external_ref=ref,
                fulfilment=Fulfilment.DELIVERY,
                on_call=item.on_call,
                requested_date=item.requested_date,
                window_from=item.window_from,
                window_to=item.window_to,
                plant=plant,
                net_total=net_total,
                tax_total=tax_total,
                gross_total=net_total + tax_total,
                notes=item.notes or "",
                erp_system=erp_system,
                erp_order_number=item.erp_order_number,
                # As after `order_confirm`: placed (1) → acknowledged (2) → confirmed (3).
                status=OrderStatus.CONFIRMED,
                erp_sync_state=ErpSyncState.ACKNOWLEDGED,
                version=3,
                created_at=now,
                updated_at=now,
            )
            for order_line in order_lines:
                order_line.order = order
            placed.append((order, order_lines))

        event_actor = actor if actor.channel else Actor(actor.kind, actor.name, actor.user, Channel.ERP)
        who = {
            "at": now,
            "actor_kind": event_actor.kind,
            "actor": event_actor.name,
            "channel": event_actor.channel,
        }
        # Everything is built: the stock rows are locked from here to the commit only.
        stock_allocate_many(items=allocations, skus={p.pk: p.sku for p in products.values()})
        bulk_insert(sites)
        bulk_insert([order for order, _lines in placed])
        bulk_insert([line for _order, order_lines in placed for line in order_lines])
        insert_rows(
            OrderEvent,
            [
                {"order_id": order.pk, "type": type_, "data": data, **who}
                for order, order_lines in placed
                for type_, data in (
                    (
                        "order.placed",
                        {
                            "channel": Channel.ERP,
                            "lines": len(order_lines),
                            "gross": f"{order.gross_total:.2f}",
                        },
                    ),
                    ("erp.acknowledged", {"erp_order": order.erp_order_number}),
                    ("order.confirmed", {"from": OrderStatus.PLACED, "to": OrderStatus.CONFIRMED}),
                )
            ],
        )
    return [order for order, _lines in placed]
