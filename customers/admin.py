from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import Customer, CustomerErasure, CustomerEvent, PortalAccess, Site


class SiteInline(admin.TabularInline):
    model = Site
    extra = 0
    fields = ("name", "address", "city", "postcode", "country", "lat", "lon", "active")


class PortalAccessInline(admin.TabularInline):
    model = PortalAccess
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "kind", "email", "phone", "credit_hold", "active", "console_link")
    list_filter = ("kind", "credit_hold", "active", "language")
    search_fields = ("number", "name", "email", "phone", "vat_id")
    readonly_fields = ("public_id", "number", "merged_into", "created_at", "updated_at")
    inlines = [SiteInline, PortalAccessInline]
    list_select_related = ()
    show_full_result_count = False

    @admin.display(description=gettext_lazy("360"))
    def console_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:console-customer", args=[obj.pk]), _("Open"))


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ("name", "customer", "address", "city", "active")
    search_fields = ("name", "address", "city", "customer__number", "customer__name")
    raw_id_fields = ("customer",)
    list_select_related = ("customer",)


@admin.register(CustomerEvent)
class CustomerEventAdmin(admin.ModelAdmin):
    list_display = ("customer", "type", "at", "actor")
    list_select_related = ("customer",)
    raw_id_fields = ("customer",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(CustomerErasure)
class CustomerErasureAdmin(admin.ModelAdmin):
    """Read-only: an erasure is written by the erasure itself (docs/privacy.md) and kept as its proof."""

    list_display = ("customer_number", "at", "requested_by", "forced")
    list_filter = ("forced",)
    search_fields = ("customer_number", "requested_by")
    readonly_fields = (
        "customer",
        "customer_number",
        "customer_public_id",
        "requested_by",
        "forced",
        "counts",
        "at",
    )

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
