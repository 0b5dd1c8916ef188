from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from customers.models import Customer, CustomerEvent, PortalAccess, Site
from customers.services import customer_merge
from oms.exceptions import DomainError
from oms.lib.actors import Actor


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
    actions = ["merge_customers"]

    @admin.display(description=gettext_lazy("360"))
    def console_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:console-customer", args=[obj.pk]), _("Open"))

    @admin.action(description=gettext_lazy("Merge selected duplicate customers"), permissions=["change"])
    def merge_customers(self, request, queryset):
        """Confirmation page: choose the customer to keep; the others are merged into it."""
        from orders.console.forms import MergeForm

        customers = queryset.filter(merged_into__isnull=True).order_by("number")
        if customers.count() < 2:
            self.message_user(request, _("Select at least two active customers to merge."), messages.ERROR)
            return None
        form = MergeForm(request.POST if request.POST.get("confirm") else None, customers=customers)
        if form.is_valid():
            survivor = form.cleaned_data["survivor"]
            actor = Actor.for_user(request.user)
            merged = []
            for duplicate in customers.exclude(pk=survivor.pk):
                try:
                    customer_merge(survivor=survivor, duplicate=duplicate, actor=actor)
                except DomainError as error:
                    self.message_user(request, f"{duplicate.number}: {error.detail}", messages.ERROR)
                    continue
                self.log_change(request, duplicate, f"Merged into {survivor.number}")
                merged.append(duplicate.number)
            if merged:
                self.log_change(request, survivor, f"Merged {', '.join(merged)} into this customer")
                self.message_user(
                    request,
                    _("Merged %(dups)s into %(survivor)s.")
                    % {"dups": ", ".join(merged), "survivor": survivor.number},
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Merge customers"),
            "opts": self.model._meta,
            "customers": customers,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
        }
        return TemplateResponse(request, "admin/console/merge_confirm.html", context)


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
