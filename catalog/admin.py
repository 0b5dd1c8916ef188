"""Plants, products and stock levels in the admin."""

from __future__ import annotations

from django.contrib import admin

from catalog import models
from catalog.services import stock_set_level
from oms.lib.actors import Actor


@admin.register(models.Plant)
class PlantAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "timezone", "avg_speed_kmh", "erp_system", "active"]
    list_filter = ["active"]
    search_fields = ["code", "name"]
    readonly_fields = ["avg_speed_kmh"]


@admin.register(models.Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "unit", "unit_price", "vat_rate", "stocked", "active")
    list_filter = ("unit", "stocked", "active")
    search_fields = ("sku", "name")


@admin.register(models.StockLevel)
class StockLevelAdmin(admin.ModelAdmin):
    list_display = ("product", "plant", "on_hand", "allocated", "available", "updated_at")
    list_filter = ("plant",)
    search_fields = ("product__sku", "product__name")
    list_select_related = ("product", "plant")
    readonly_fields = ("allocated",)

    def get_readonly_fields(self, request, obj=None):
        return ("plant", "product", "allocated") if obj is not None else ("allocated",)

    def save_model(self, request, obj, form, change):
        """Through the stock service: the row is locked and the allocation kept (never overwritten
        with the value the form was loaded with)."""
        level = stock_set_level(
            plant=obj.plant, product=obj.product, on_hand=obj.on_hand, actor=Actor.for_user(request.user)
        )
        obj.pk = level.pk
        obj.refresh_from_db()
