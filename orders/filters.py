"""django-filter FilterSets of the REST API."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from catalog.models import Product, Unit
from orders.models import Order, OrderStatus


class ProductFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(
        method="filter_search", max_length=100, help_text="Case-insensitive substring of the SKU or name."
    )
    unit = django_filters.ChoiceFilter(choices=Unit.choices)

    class Meta:
        model = Product
        fields = ["search", "unit"]

    def filter_search(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(sku__icontains=value) | Q(name__icontains=value))


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices)
    external_ref = django_filters.CharFilter(max_length=100)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Order
        fields = ["status", "external_ref", "created_after", "created_before"]
