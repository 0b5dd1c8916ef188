"""The filters of "My orders"."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from customers.models import Customer, Site
from orders.models import Channel, Order, OrderStatus


class PortalOrderFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Order number or reference"), method="filter_search", max_length=100
    )
    status = django_filters.ChoiceFilter(label=_("Status"), choices=OrderStatus.choices, empty_label=_("Any"))
    channel = django_filters.ChoiceFilter(label=_("Channel"), choices=Channel.choices, empty_label=_("Any"))
    date_from = django_filters.DateFilter(
        label=_("Requested from"),
        field_name="requested_date",
        lookup_expr="gte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        label=_("Requested until"),
        field_name="requested_date",
        lookup_expr="lte",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    site = django_filters.ModelChoiceFilter(
        label=_("Site"),
        queryset=Site.objects.none(),
        to_field_name="public_id",
        empty_label=_("Any"),
    )

    class Meta:
        model = Order
        fields = ["q", "status", "channel", "date_from", "date_to", "site"]

    def __init__(self, *args, customer: Customer, sites: QuerySet[Site], **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer
        self.filters["site"].queryset = sites

    def filter_search(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(number__iexact=value)
            | Q(external_ref__iexact=value)
            | Q(number__icontains=value)
            | Q(external_ref__icontains=value)
        )
