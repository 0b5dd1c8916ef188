"""Read-mostly admin: changes to orders go through the services (the rep console builds on this)."""

from django.contrib import admin
from django.shortcuts import redirect
from django.urls import reverse

from oms.lib.admin import ReadOnlyInline
from orders.models import (
    ApiClient,
    CallOff,
    Order,
    OrderEvent,
    OrderLine,
    ReturnLine,
    ReturnRequest,
    SalesPoint,
)
from orders.services.clients import api_client_revoke


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "position",
        "sku",
        "description",
        "quantity",
        "unit",
        "unit_price",
        "net",
        "allocated",
        "loaded",
        "delivered",
        "returned",
        "cancelled",
    )
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("at", "type", "actor_kind", "actor", "channel", "data", "visible_to_customer", "outbox_message")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = (
        "number",
        "customer",
        "channel",
        "status",
        "requested_date",
        "plant",
        "gross_total",
        "erp_sync_state",
        "created_at",
    )
    list_filter = ("status", "channel", "plant", "erp_sync_state", "fulfilment", "on_call")
    search_fields = ("number", "external_ref", "erp_order_number", "customer__number", "customer__name")
    list_select_related = ("customer", "plant")
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [OrderLineInline, OrderEventInline]
    readonly_fields = [f.name for f in Order._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The console order page replaces the read-only form (actions go through the services)."""
        if str(object_id).isdigit() and self.has_view_permission(request):
            return redirect(reverse("admin:console-order", args=[object_id]))
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(SalesPoint)
class SalesPointAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "channel", "plant", "active")
    list_filter = ("channel", "plant", "active")


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ("order_line", "quantity", "received")
    readonly_fields = fields


@admin.register(ReturnRequest)
class ReturnRequestAdmin(admin.ModelAdmin):
    list_display = ("number", "order", "status", "reason", "created_at")
    list_filter = ("status",)
    search_fields = ("number", "order__number")
    raw_id_fields = ("order",)
    inlines = [ReturnLineInline]
    readonly_fields = ("number", "order", "status", "created_at", "updated_at")


@admin.register(CallOff)
class CallOffAdmin(admin.ModelAdmin):
    list_display = ("order", "requested_at", "wanted_at", "status")
    list_filter = ("status",)
    raw_id_fields = ("order",)


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    """Keys are issued with `manage.py oms_token`; here they can be reviewed, renamed and revoked.
    Revocation is final: `revoked_at` is set by the action only and never cleared."""

    list_display = ("key_prefix", "kind", "sales_point", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kind",)
    readonly_fields = (
        "public_id",
        "kind",
        "key_prefix",
        "key_hash",
        "sales_point",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request, queryset):
        count = sum(api_client_revoke(client=client) for client in queryset)
        self.message_user(request, f"Revoked {count} key(s).")
