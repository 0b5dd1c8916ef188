"""`order_place`: the one entry point for every channel (storefront, web, phone, kiosk, erp).

validate → resolve customer and site → price lines → choose the plant → allocate stock (locked, all
or nothing) → order, lines, `order.placed` event, outbox `order.created` — in one transaction, with a
constant number of queries whatever the number of lines.

The lines' shape checks and pricing are in `order_input`; many new ERP orders at once go through
`erp_import.erp_orders_import`, built with the same pieces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.models import Plant, Product, StockLevel
from catalog.services import stock_allocate
from customers.models import Customer, Site
from customers.services import (
    CustomerData,
    SiteData,
    customer_get_or_create,
    customer_resolve,
    site_create,
    site_for_customer,
)
from oms.exceptions import DuplicateExternalRef, ValidationError
from oms.lib.actors import Actor
from oms.lib.bulk import fetch_where
from oms.lib.sequences import next_value
from oms.metrics import orders_placed
from orders.models import (
    ZERO_QTY,
    Channel,
    ErpSyncState,
    Fulfilment,
    Order,
    OrderLine,
    OrderStatus,
    SalesPoint,
)
from orders.payloads import order_created
from orders.services.events import order_event
from orders.services.order_input import (
    MAX_PRICE,  # noqa: F401 - the lifecycle services (corrections) import it from here
    UNKNOWN_SKU,
    LineInput,
    is_quantity,  # noqa: F401 - likewise
    priced_lines,
    round_money,  # noqa: F401 - likewise
    stock_needs,
    validate_shape,
)
from orders.state import order_transition

SALES_POINT_INACTIVE = gettext_noop("This sales point is not active.")
SITE_REQUIRED = gettext_noop("A delivery needs a site.")
DATE_IN_PAST = gettext_noop("The requested date cannot be in the past.")
NO_PLANT = gettext_noop("No active plant can serve this order.")


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


def plant_today(plant: Plant) -> date:
    try:
        zone = ZoneInfo(plant.timezone)
    except Exception:  # noqa: BLE001 - a bad zone name in master data falls back to UTC
        zone = ZoneInfo("UTC")
    return timezone.now().astimezone(zone).date()


def _check_request(
    *, channel: str, sales_point: SalesPoint | None, fulfilment: str, lines: list[LineInput], **shape
) -> None:
    """What can be refused before the transaction: channel, sales point, fulfilment, the shape."""
    if channel not in Channel.values:
        raise ValidationError(errors={"channel": [f"Unknown channel {channel!r}."]})
    if sales_point is not None and (not sales_point.active or sales_point.channel != channel):
        raise ValidationError(SALES_POINT_INACTIVE, errors={"sales_point": [SALES_POINT_INACTIVE]})
    if fulfilment not in Fulfilment.values:
        raise ValidationError(errors={"fulfilment": ["Use delivery or pickup."]})
    validate_shape(lines=lines, **shape)
    if channel != Channel.ERP and any(line.unit_price is not None for line in lines):
        raise ValidationError(errors={"lines": ["Prices are set by the catalog."]})


def refuse_taken_refs(channel: str, refs: list[str]) -> None:
    """DuplicateExternalRef (with the order's `number`) when an order of `channel` has one of `refs`."""
    taken = Order.objects.filter(channel=channel, external_ref__in=refs).values_list("number", flat=True)
    if number := taken.first():
        raise DuplicateExternalRef(extra={"number": number})


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


def _active_products(lines: list[LineInput]) -> dict[str, Product]:
    """The active products of the lines by SKU; ValidationError naming each line with an unknown one."""
    products = {p.sku: p for p in fetch_where(Product, sku={line.sku for line in lines}, active=True)}
    unknown = [{"sku": [UNKNOWN_SKU]} if line.sku not in products else {} for line in lines]
    if any(unknown):
        raise ValidationError(UNKNOWN_SKU, errors={"lines": unknown})
    return products


def _requested_date(plant: Plant, requested_date: date | None, channel: str) -> date:
    """The delivery date: today at the plant by default; only the ERP may place orders in the past."""
    today = plant_today(plant)
    requested = requested_date or today
    if requested < today and channel != Channel.ERP:
        raise ValidationError(DATE_IN_PAST, errors={"requested_date": [DATE_IN_PAST]})
    return requested


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


def _plant_for(sales_point: SalesPoint | None, **choice) -> Plant:
    """The sales point's plant, or the one chosen for the customer, the site and the stock needed."""
    return sales_point.plant if sales_point is not None else choose_plant(**choice)


def order_number(value: int, when: datetime) -> str:
    return f"ORD-{when.year}-{value:06d}"


def build_order(
    *,
    number: str,
    priced: tuple[list[OrderLine], Decimal, Decimal],
    site: Site | None,
    now: datetime,
    **fields,
) -> tuple[Order, list[OrderLine]]:
    """An unsaved order (`fields` as the model's) with its priced lines and their totals."""
    order_lines, net_total, tax_total = priced
    order = Order(
        number=number,
        site=site,
        address=site.snapshot() if site else {},
        net_total=net_total,
        tax_total=tax_total,
        gross_total=net_total + tax_total,
        created_at=now,
        updated_at=now,
        **fields,
    )
    for order_line in order_lines:
        order_line.order = order
    return order, order_lines


def placed_data(order: Order, lines: int) -> dict[str, object]:
    """The data of the `order.placed` event."""
    return {"channel": order.channel, "lines": lines, "gross": f"{order.gross_total:.2f}"}


def _insert_order(order: Order, order_lines: list[OrderLine]) -> None:
    """Insert the order and its lines, and keep the lines in its prefetch cache."""
    if not order.external_ref:
        order.save(force_insert=True)
    else:
        # A concurrent twin with the same reference may win the unique constraint: report its number.
        try:
            with transaction.atomic():
                order.save(force_insert=True)
        except IntegrityError:
            refuse_taken_refs(order.channel, [order.external_ref])
            raise
    OrderLine.objects.bulk_create(order_lines)
    # Seed the prefetch cache as `prefetch_related("lines")` would: the caller's `order.lines.all()`
    # (the API response, the payloads) answers from memory instead of reading the lines back.
    cached = order.lines.all()
    cached._result_cache, cached._prefetch_done = order_lines, True
    order._prefetched_objects_cache = {"lines": cached}


def _record_placed(order: Order, order_lines: list[OrderLine], *, actor: Actor) -> None:
    """The `order.placed` event and, for OMS channels, the `order.created` message to the ERP."""
    payload = order_created(order, order_lines)
    order_event(
        order,
        "order.placed",
        actor=actor.on_channel(order.channel),
        data=placed_data(order, len(order_lines)),
        outbox_type="order.created" if order.channel != Channel.ERP else None,
        outbox_payload=payload,
    )
    if order.customer.credit_hold:
        order_transition(
            order,
            OrderStatus.ON_HOLD,
            actor=Actor.system(),
            data={"reason": "credit_hold"},
            event_type="order.held",
        )


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
    external_ref = (external_ref or "").strip()
    _check_request(
        channel=channel,
        sales_point=sales_point,
        fulfilment=fulfilment,
        lines=lines,
        external_ref=external_ref,
        notes=notes,
        window_from=window_from,
        window_to=window_to,
    )
    with transaction.atomic(savepoint=savepoint):
        if external_ref:
            refuse_taken_refs(channel, [external_ref])
        the_customer = _resolve_customer(customer, actor)
        products = _active_products(lines)
        the_site = _resolve_site(the_customer, fulfilment, site)
        needs = stock_needs(lines, products)
        if plant is None:
            plant = _plant_for(sales_point, customer=the_customer, site=the_site, needs=needs)
        requested = _requested_date(plant, requested_date, channel)
        now = timezone.now()
        priced = priced_lines(lines, products)
        order, order_lines = build_order(
            number=order_number(next_value("order_number"), now),
            priced=priced,
            site=the_site,
            now=now,
            customer=the_customer,
            channel=channel,
            sales_point=sales_point,
            external_ref=external_ref,
            fulfilment=fulfilment,
            on_call=on_call,
            requested_date=requested,
            window_from=window_from,
            window_to=window_to,
            plant=plant,
            notes=notes or "",
            created_by=actor.user,
            erp_system=erp_system,
            erp_order_number=erp_order_number,
            # Orders from OMS channels produce `order.created`; ERP-keyed orders are the ERP's own.
            erp_sync_state=ErpSyncState.PENDING if channel != Channel.ERP else ErpSyncState.NONE,
        )
        _insert_order(order, order_lines)
        _record_placed(order, order_lines, actor=actor)
        # Last: the stock rows stay locked until the commit, and every order of a product at a plant
        # waits for them. Short stock rolls back what was written above (the order number is spent).
        stock_allocate(plant_id=plant.pk, items=needs.items(), skus={p.pk: p.sku for p in products.values()})
        orders_placed(channel)
    return order
