"""Plants and products (master data from the ERP), and stock per plant: allocate, release, consume,
set level. Never oversell.

Allocation locks the stock rows of all lines in primary-key order (one SELECT … FOR UPDATE, so two
multi-line orders cannot deadlock), checks every line, then writes all lines with one UPDATE: a
constant number of queries whatever the number of lines, all-or-nothing. The database check
constraint `0 <= allocated <= on_hand` is the last line of defence.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Case, DecimalField, F, Value, When
from django.db.models.functions import Greatest, Least

from catalog.models import QTY, ZERO_QTY, Plant, Product, StockLevel
from oms.exceptions import InsufficientStock, ValidationError
from oms.lib.actors import Actor
from oms.lib.unset import UNSET, given
from oms.models import ErpSystem

QTY_FIELD = DecimalField(**QTY)
NEGATIVE_ON_HAND = "on_hand cannot be negative."
UNKNOWN_TIMEZONE = "Unknown time zone {tz!r}."
VAT_RATE_RANGE = "vat_rate must be between 0 and 100."


@transaction.atomic
def plant_upsert(
    *,
    code: str,
    erp_system: ErpSystem | None,
    name: str = UNSET,
    address: str = UNSET,
    lat: float | None = UNSET,
    lon: float | None = UNSET,
    timezone: str = UNSET,
    active: bool = UNSET,
) -> Plant:
    """Create the plant `code` or change the fields given (the others keep their value).
    `erp_system` is the ERP that sent it and owns it from now on."""
    fields = given(name=name, address=address, lat=lat, lon=lon, timezone=timezone, active=active)
    if "timezone" in fields and timezone not in zoneinfo.available_timezones():
        raise ValidationError(UNKNOWN_TIMEZONE.format(tz=timezone))
    plant, _ = Plant.objects.update_or_create(code=code, defaults={**fields, "erp_system": erp_system})
    return plant


@transaction.atomic
def product_upsert(
    *,
    sku: str,
    name: str = UNSET,
    unit: str = UNSET,
    unit_price: Decimal = UNSET,
    vat_rate: Decimal = UNSET,
    stocked: bool = UNSET,
    active: bool = UNSET,
) -> Product:
    """Create the product `sku` or change the fields given (the others keep their value). Nothing is
    deleted: `active=False` takes a product out of the catalogue."""
    fields = given(
        name=name, unit=unit, unit_price=unit_price, vat_rate=vat_rate, stocked=stocked, active=active
    )
    if "vat_rate" in fields and not Decimal(0) <= vat_rate <= Decimal(100):
        raise ValidationError(VAT_RATE_RANGE)
    product, _ = Product.objects.update_or_create(sku=sku, defaults=fields)
    return product


def _sum_by_product(items: Iterable[tuple[int, Decimal]]) -> dict[int, Decimal]:
    totals: dict[int, Decimal] = defaultdict(lambda: ZERO_QTY)
    for product_id, quantity in items:
        totals[product_id] += quantity
    return dict(totals)


def _case(values: dict[int, Decimal]) -> Case:
    return Case(
        *[When(product_id=pid, then=Value(qty, output_field=QTY_FIELD)) for pid, qty in values.items()],
        default=Value(ZERO_QTY, output_field=QTY_FIELD),
        output_field=QTY_FIELD,
    )


def stock_lock(*, plant_id: int, product_ids: Iterable[int]) -> None:
    """Lock the stock rows of several products in pk order, for a caller that then changes them in
    more than one step (a correction allocates some and releases others): locking them step by
    step would take the rows out of pk order and deadlock against a concurrent allocation."""
    list(
        StockLevel.objects.select_for_update()
        .filter(plant_id=plant_id, product_id__in=set(product_ids))
        .order_by("pk")
        .values("pk")
    )


def stock_allocate(*, plant_id: int, items: Iterable[tuple[int, Decimal]], skus: dict[int, str]) -> None:
    """Allocate (product_id, quantity) items at a plant, all or nothing. Caller holds a transaction.

    Raises InsufficientStock with one entry per short product: {"sku", "requested", "available"}.
    """
    wanted = _sum_by_product(items)
    if not wanted:
        return
    if connection.vendor == "postgresql":
        rows, allocated = _lock_check_allocate(plant_id, wanted)
        if allocated:
            return
    else:
        rows = list(
            StockLevel.objects.select_for_update()
            .filter(plant_id=plant_id, product_id__in=wanted)
            .order_by("pk")
            .values_list("product_id", "on_hand", "allocated")
        )
    available = {pid: max(on_hand - allocated, ZERO_QTY) for pid, on_hand, allocated in rows}
    short = [
        {"sku": skus[pid], "requested": f"{qty:.3f}", "available": f"{available.get(pid, ZERO_QTY):.3f}"}
        for pid, qty in sorted(wanted.items())
        if available.get(pid, ZERO_QTY) < qty
    ]
    if short:
        raise InsufficientStock(
            f"Not enough stock for {len(short)} line{'s' if len(short) != 1 else ''}.",
            errors={"lines": short},
        )
    StockLevel.objects.filter(plant_id=plant_id, product_id__in=wanted).update(
        allocated=F("allocated") + _case(wanted)
    )


def _lock_check_allocate(plant_id: int, wanted: dict[int, Decimal]) -> tuple[list[tuple], bool]:
    """PostgreSQL: lock the rows in pk order, check every product and allocate only if all have
    enough — one statement instead of a locking read and an UPDATE. Returns the rows as locked
    (product_id, on_hand, allocated before) and whether the allocation was made."""
    table = connection.ops.quote_name(StockLevel._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH wanted AS (SELECT * FROM unnest(%s::bigint[], %s::numeric[]) AS w(product_id, qty)),
            locked AS (
                SELECT id, product_id, on_hand, allocated FROM {table}
                WHERE plant_id = %s AND product_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE
            ),
            enough AS (
                SELECT NOT EXISTS (
                    SELECT 1 FROM wanted w LEFT JOIN locked l ON l.product_id = w.product_id
                    WHERE l.id IS NULL OR l.on_hand - l.allocated < w.qty
                ) AS ok
            ),
            allocated AS (
                UPDATE {table} s SET allocated = s.allocated + w.qty
                FROM locked l JOIN wanted w ON w.product_id = l.product_id, enough
                WHERE s.id = l.id AND enough.ok
                RETURNING s.id
            )
            SELECT product_id, on_hand, allocated, (SELECT count(*) FROM allocated) FROM locked
            """,  # noqa: S608 - quoted table name only
            [list(wanted), list(wanted.values()), plant_id, list(wanted)],
        )
        found = cursor.fetchall()
    rows = [(product_id, on_hand, allocated) for product_id, on_hand, allocated, _ in found]
    return rows, bool(found) and found[0][3] == len(wanted)


def stock_allocate_many(*, items: dict[tuple[int, int], Decimal], skus: dict[int, str]) -> None:
    """Allocate {(plant_id, product_id): quantity} across plants at once, all or nothing (bulk imports).

    Same rules as `stock_allocate`: the rows are locked in primary-key order with one statement, every
    item is checked, and all are written with one UPDATE.
    """
    if not items:
        return
    # Locks the rows of every plant × product named (a superset when several plants are involved:
    # cheaper to build and run than an OR of pairs; the extra rows are locked, not changed).
    rows = list(
        StockLevel.objects.select_for_update()
        .filter(plant_id__in={p for p, _ in items}, product_id__in={p for _, p in items})
        .order_by("pk")
        .values_list("pk", "plant_id", "product_id", "on_hand", "allocated")
    )
    found = {
        (plant_id, product_id): (pk, on_hand - allocated)
        for pk, plant_id, product_id, on_hand, allocated in rows
    }
    short = [
        {
            "sku": skus[product_id],
            "requested": f"{qty:.3f}",
            "available": f"{max(found.get((plant_id, product_id), (None, ZERO_QTY))[1], ZERO_QTY):.3f}",
        }
        for (plant_id, product_id), qty in sorted(items.items())
        if (plant_id, product_id) not in found or found[plant_id, product_id][1] < qty
    ]
    if short:
        raise InsufficientStock(
            f"Not enough stock for {len(short)} line{'s' if len(short) != 1 else ''}.",
            errors={"lines": short},
        )
    by_pk = {found[key][0]: qty for key, qty in items.items()}
    StockLevel.objects.filter(pk__in=by_pk).update(
        allocated=F("allocated")
        + Case(
            *[When(pk=pk, then=Value(qty, output_field=QTY_FIELD)) for pk, qty in by_pk.items()],
            default=Value(ZERO_QTY, output_field=QTY_FIELD),
            output_field=QTY_FIELD,
        )
    )


def stock_release(*, plant_id: int, items: Iterable[tuple[int, Decimal]]) -> None:
    """Give back allocated quantities (cancellation, correction down). Never below zero."""
    wanted = _sum_by_product(items)
    if not wanted:
        return
    stock_lock(plant_id=plant_id, product_ids=wanted)
    StockLevel.objects.filter(plant_id=plant_id, product_id__in=wanted).update(
        allocated=Greatest(F("allocated") - _case(wanted), Value(ZERO_QTY, output_field=QTY_FIELD))
    )


def stock_consume(*, plant_id: int, items: Iterable[tuple[int, Decimal]]) -> None:
    """Goods left the plant (delivered): on_hand and allocated both go down by the quantity."""
    wanted = _sum_by_product(items)
    if not wanted:
        return
    stock_lock(plant_id=plant_id, product_ids=wanted)
    # Allocation first (it must stay <= on_hand), then on_hand; both clamp at zero.
    StockLevel.objects.filter(plant_id=plant_id, product_id__in=wanted).update(
        allocated=Greatest(F("allocated") - _case(wanted), Value(ZERO_QTY, output_field=QTY_FIELD)),
        on_hand=Greatest(F("on_hand") - _case(wanted), Value(ZERO_QTY, output_field=QTY_FIELD)),
    )


def stock_restock(*, plant_id: int, items: Iterable[tuple[int, Decimal]]) -> None:
    """Returned goods back on hand (a missing stock row is created)."""
    wanted = _sum_by_product(items)
    if not wanted:
        return
    StockLevel.objects.bulk_create(
        [StockLevel(plant_id=plant_id, product_id=product_id) for product_id in sorted(wanted)],
        ignore_conflicts=True,
    )
    # Lock in pk order like every other stock writer: locking in product order deadlocked against a
    # concurrent allocation whenever the rows had been created in another order than the products.
    stock_lock(plant_id=plant_id, product_ids=wanted)
    StockLevel.objects.filter(plant_id=plant_id, product_id__in=wanted).update(
        on_hand=F("on_hand") + _case(wanted)
    )


@transaction.atomic
def stock_set_level(*, plant, product: Product, on_hand: Decimal, actor: Actor) -> StockLevel:
    """Absolute on-hand from the ERP. Allocation is the OMS's: it is capped at the new on_hand."""
    if on_hand < 0:
        raise ValidationError(NEGATIVE_ON_HAND, errors={"on_hand": [NEGATIVE_ON_HAND]})
    level, _ = StockLevel.objects.get_or_create(plant=plant, product=product)
    level = StockLevel.objects.select_for_update().get(pk=level.pk)
    StockLevel.objects.filter(pk=level.pk).update(
        on_hand=Value(on_hand, output_field=QTY_FIELD),
        allocated=Least(F("allocated"), Value(on_hand, output_field=QTY_FIELD)),
    )
    level.refresh_from_db()
    return level
