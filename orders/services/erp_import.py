"""`erp_orders_import`: many new ERP orders placed and confirmed at once (the inbox's bulk apply of
`order.upsert`), with the same rows as `order_place` followed by `order_confirm` for each, in a
constant number of statements whatever their number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from catalog.models import Plant, Product
from catalog.services import stock_allocate_many
from customers.models import Customer, Site
from customers.services import SiteData, site_build
from oms.exceptions import ValidationError
from oms.lib.actors import Actor
from oms.lib.bulk import bulk_insert, insert_rows
from oms.lib.sequences import next_values
from oms.metrics import orders_placed
from orders.models import (
    ZERO_QTY,
    Channel,
    ErpSyncState,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from orders.services.events import order_event_rows
from orders.services.order_input import UNKNOWN_SKU, LineInput, priced_lines, stock_needs, validate_shape
from orders.services.placement import build_order, choose_plant, order_number, placed_data, refuse_taken_refs

CREDIT_HOLD_NOT_BULK = "A customer on credit hold gets held orders: place them one by one."


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


def _check_orders(orders: list[ErpOrderInput]) -> list[str]:
    """What can be refused before the transaction; the ERP order numbers (each order's own)."""
    for item in orders:
        validate_shape(
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
    return refs


def _products(orders: list[ErpOrderInput]) -> dict[str, Product]:
    skus = {line.sku for item in orders for line in item.lines}
    products = {p.sku: p for p in Product.objects.filter(sku__in=skus, active=True)}
    if len(products) != len(skus):
        raise ValidationError(UNKNOWN_SKU)
    return products


def _plants_and_stock(
    orders: list[ErpOrderInput], sites: list[Site], products: dict[str, Product]
) -> tuple[list[Plant], dict[tuple[int, int], Decimal]]:
    """The plant of each order (the ERP's, or chosen as for any order) and the stock to allocate
    per (plant, product)."""
    plants: list[Plant] = []
    allocations: dict[tuple[int, int], Decimal] = {}
    for item, site in zip(orders, sites, strict=True):
        needs = stock_needs(item.lines, products)
        plant = item.plant or choose_plant(customer=item.customer, site=site, needs=needs)
        plants.append(plant)
        for product_id, quantity in needs.items():
            allocations[plant.pk, product_id] = allocations.get((plant.pk, product_id), ZERO_QTY) + quantity
    return plants, allocations


def _confirmed_orders(
    orders: list[ErpOrderInput],
    *,
    refs: list[str],
    sites: list[Site],
    plants: list[Plant],
    products: dict[str, Product],
    erp_system,
    now: datetime,
) -> list[tuple[Order, list[OrderLine]]]:
    """The unsaved orders, as after `order_confirm`: placed (1) → acknowledged (2) → confirmed (3)."""
    numbers = next_values("order_number", len(orders))
    return [
        build_order(
            number=order_number(value, now),
            priced=priced_lines(item.lines, products),
            site=site,
            now=now,
            customer=item.customer,
            channel=Channel.ERP,
            external_ref=ref,
            fulfilment=Fulfilment.DELIVERY,
            on_call=item.on_call,
            requested_date=item.requested_date,
            window_from=item.window_from,
            window_to=item.window_to,
            plant=plant,
            notes=item.notes or "",
            erp_system=erp_system,
            erp_order_number=item.erp_order_number,
            status=OrderStatus.CONFIRMED,
            erp_sync_state=ErpSyncState.ACKNOWLEDGED,
            version=3,
        )
        for item, site, plant, value, ref in zip(orders, sites, plants, numbers, refs, strict=True)
    ]


def _event_rows(placed: list[tuple[Order, list[OrderLine]]], *, actor: Actor, now: datetime) -> list[dict]:
    """`order.placed`, `erp.acknowledged` and `order.confirmed` of each order."""
    return order_event_rows(
        (
            (order, type_, data)
            for order, order_lines in placed
            for type_, data in (
                ("order.placed", placed_data(order, len(order_lines))),
                ("erp.acknowledged", {"erp_order": order.erp_order_number}),
                ("order.confirmed", {"from": OrderStatus.PLACED, "to": OrderStatus.CONFIRMED}),
            )
        ),
        actor=actor.on_channel(Channel.ERP),
        at=now,
    )


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
    refs = _check_orders(orders)
    with transaction.atomic():
        refuse_taken_refs(Channel.ERP, refs)
        products = _products(orders)
        sites = [site_build(customer=item.customer, data=item.site) for item in orders]
        plants, allocations = _plants_and_stock(orders, sites, products)
        now = timezone.now()
        placed = _confirmed_orders(
            orders, refs=refs, sites=sites, plants=plants, products=products, erp_system=erp_system, now=now
        )
        # Everything is built: the stock rows are locked from here to the commit only.
        stock_allocate_many(items=allocations, skus={p.pk: p.sku for p in products.values()})
        bulk_insert(sites)
        bulk_insert([order for order, _lines in placed])
        bulk_insert([line for _order, order_lines in placed for line in order_lines])
        insert_rows(OrderEvent, _event_rows(placed, actor=actor, now=now))
        orders_placed(Channel.ERP, len(placed))
    return [order for order, _lines in placed]
