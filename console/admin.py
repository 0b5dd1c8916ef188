"""The console in the admin site: its routes (/admin/console/…) and the second-factor pages in front of
the admin's own, the sign-in form that reports lockouts, and the admin actions that run cross-app
services (merging customers; exporting and erasing a customer's personal data)."""

from __future__ import annotations

import tempfile

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import FileResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from console import tasks as _console_tasks  # noqa: F401 - registers the export task in workers
from console.forms import MergeForm, StaffLoginForm
from console.urls import console_urls, second_factor_urls
from customers.admin import CustomerAdmin
from customers.models import Customer
from erp_sync.privacy import ERASE_PERMISSION, EXPORT_PERMISSION, customer_erase
from fleet.privacy import customer_export_archive
from fleet.services.customers import customer_merge
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from oms.lib.files import PRIVATE_NO_STORE

# An archive is built in memory up to this size, then in a temporary file.
ARCHIVE_MEMORY_BYTES = 16 * 1024 * 1024


def _inject_console_urls(site: admin.AdminSite) -> None:
    """Put the console's routes (/admin/console/…) in front of the admin site's own."""
    original = site.get_urls
    if getattr(original, "console_injected", False):
        return

    def get_urls():
        return console_urls(site) + second_factor_urls(site) + original()

    get_urls.console_injected = True
    site.get_urls = get_urls


_inject_console_urls(admin.site)
admin.site.login_form = StaffLoginForm
# The staff site introduces itself as the OMS console, not as a generic "Django administration".
admin.site.site_header = gettext_lazy("OMS console")
admin.site.site_title = gettext_lazy("OMS console")
admin.site.index_title = gettext_lazy("Records and settings")


class ConsoleCustomerAdmin(CustomerAdmin):
    actions = ["merge_customers", "export_personal_data", "erase_personal_data"]

    def has_export_personal_data_permission(self, request) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    def has_erase_personal_data_permission(self, request) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    @admin.action(
        description=gettext_lazy("Export personal data (zip)"), permissions=["export_personal_data"]
    )
    def export_personal_data(self, request, queryset):
        """The archive of docs/privacy.md for one customer, as a private download."""
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one customer to export."), messages.ERROR)
            return None
        customer = queryset.get()
        archive = tempfile.SpooledTemporaryFile(max_size=ARCHIVE_MEMORY_BYTES)  # noqa: SIM115 - the response closes it
        customer_export_archive(customer=customer, output=archive)
        archive.seek(0)
        self.log_change(request, customer, "Personal data exported")
        response = FileResponse(
            archive,
            as_attachment=True,
            filename=f"{customer.number}-personal-data.zip",
            content_type="application/zip",
        )
        response["Cache-Control"] = PRIVATE_NO_STORE
        return response

    @admin.action(description=gettext_lazy("Erase personal data"), permissions=["erase_personal_data"])
    def erase_personal_data(self, request, queryset):
        """Confirmation page, then the erasure of each selected customer (docs/privacy.md)."""
        customers = list(queryset.order_by("number"))
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Erase personal data"),
                "opts": self.model._meta,
                "customers": customers,
                "can_force": request.user.is_superuser,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "selected": [str(customer.pk) for customer in customers],
            }
            return TemplateResponse(request, "admin/console/erase_confirm.html", context)
        force = request.POST.get("force") == "yes"
        actor = Actor.for_user(request.user)
        for customer in customers:
            try:
                result = customer_erase(customer=customer, actor=actor, force=force)
            except DomainError as error:
                self.message_user(request, f"{customer.number}: {error.detail}", messages.ERROR)
                continue
            if result.already_erased:
                self.message_user(
                    request,
                    _("%(number)s was erased already on %(at)s; nothing changed.")
                    % {"number": customer.number, "at": f"{result.erasure.at:%Y-%m-%d %H:%M} UTC"},
                    messages.WARNING,
                )
                continue
            customer.refresh_from_db()
            self.log_change(request, customer, "Personal data erased")
            self.message_user(
                request,
                _("Erased the personal data of %(number)s.") % {"number": customer.number},
                messages.SUCCESS,
            )
        return None

    @admin.action(description=gettext_lazy("Merge selected duplicate customers"), permissions=["change"])
    def merge_customers(self, request, queryset):
        """Confirmation page: choose the customer to keep; the others are merged into it."""
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


admin.site.unregister(Customer)
admin.site.register(Customer, ConsoleCustomerAdmin)
