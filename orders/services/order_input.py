"""An order as a channel gives it: its lines (SKU, quantity, the ERP's own price), their limits and
messages, the checks of its shape before anything is read, and the pricing of its lines.

Used by placement (`order_place`, `erp_orders_import`) and by the services that change quantities and
prices later (corrections, returns).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_noop

from catalog.models import Product
from oms.exceptions import ValidationError
from orders.models import ZERO_QTY, OrderLine

MAX_LINES = 100
MAX_QUANTITY = Decimal("1000000")
MAX_PRICE = Decimal("1000000")
# Order totals are stored with 14 digits (2 decimals): refuse what would not fit instead of failing on save.
MAX_TOTAL = Decimal("999999999999.99")
TOTAL_TOO_LARGE = gettext_noop("The order total is too large.")
CENT = Decimal("0.01")
MILLI = Decimal("0.001")

LINES_REQUIRED = gettext_noop("An order needs 1 to 100 lines.")
QUANTITY_INVALID = gettext_noop("Quantity must be greater than 0 with at most 3 decimals.")
UNKNOWN_SKU = gettext_noop("Unknown or inactive product.")
WINDOW_INVALID = gettext_noop("The window must end after it starts.")
TOO_LONG = "Ensure this field has no more than {n} characters."
PRICE_INVALID = gettext_noop("Unit price must be a non-negative amount with at most 2 decimals.")


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: Decimal
    unit_price: Decimal | None = None  # only the ERP channel may set prices


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


def validate_shape(*, lines: list[LineInput], external_ref: str, notes: str, window_from, window_to) -> None:
    """The shape of an order as a channel gives it; ValidationError with every problem found."""
    errors: dict[str, object] = {}
    if not 1 <= len(lines) <= MAX_LINES:
        errors["lines"] = [LINES_REQUIRED]
    else:
        line_errors: list[dict[str, list[str]]] = []
        for line in lines:
            problems: dict[str, list[str]] = {}
            if not is_quantity(line.quantity):
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


def stock_needs(lines: list[LineInput], products: dict[str, Product]) -> dict[int, Decimal]:
    """The quantity to allocate per stocked product (made-to-order products need no stock)."""
    needs: dict[int, Decimal] = {}
    for line in lines:
        product = products[line.sku]
        if product.stocked:
            needs[product.pk] = needs.get(product.pk, ZERO_QTY) + line.quantity
    return needs


def priced_lines(
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
