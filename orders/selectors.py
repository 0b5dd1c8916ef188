"""Reads for the API and pages: querysets with their relations loaded."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from catalog.models import Plant, Product, StockLevel
from orders.models import ZERO_QTY, Order, OrderEvent, OrderLine, SalesPoint


def product_list() -> QuerySet[Product]:
    """Active products of the catalog, by SKU."""
    return Product.objects.filter(active=True).order_by("sku")


def active_product(*, sku: str) -> Product | None:
    """The active product with this SKU, or None."""
    return Product.objects.filter(sku=sku, active=True).first()


def product_availability(*, product: Product) -> list[dict[str, object]]:
    """Per active plant: available quantity (stocked products) or None (made to order)."""
    if not product.stocked:
        return [
            {"plant": code, "available": None}
            for code in Plant.objects.filter(active=True).order_by("code").values_list("code", flat=True)
        ]
    levels = (
        StockLevel.objects.filter(product=product, plant__active=True)
        .order_by("plant__code")
        .values_list("plant__code", "on_hand", "allocated")
    )
    return [
        {"plant": code, "available": max(Decimal(on_hand) - Decimal(allocated), ZERO_QTY)}
        for code, on_hand, allocated in levels
    ]


def _order_base() -> QuerySet[Order]:
    return Order.objects.select_related("customer", "plant", "sales_point").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position"))
    )


def order_list_for_sales_point(*, sales_point: SalesPoint) -> QuerySet[Order]:
    """The orders a device may see: those of its own sales point, newest first."""
    return _order_base().filter(sales_point=sales_point).order_by("-created_at", "-id")


def order_detail_for_sales_point(*, sales_point: SalesPoint) -> QuerySet[Order]:
    """As `order_list_for_sales_point`, with the customer-visible timeline and the jobs loaded."""
    return order_list_for_sales_point(sales_point=sales_point).prefetch_related(
        Prefetch("events", queryset=OrderEvent.objects.filter(visible_to_customer=True).order_by("at", "pk")),
        # The jobs (fleet, above this app) through their reverse relation; the serializer orders them.
        "jobs__tour__truck",
    )
