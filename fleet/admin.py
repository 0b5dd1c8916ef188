"""Fleet admin: master data editable, tours and jobs read-mostly (changes go through services)."""

from __future__ import annotations

from django.contrib import admin

from fleet import models
from oms.lib.admin import ReadOnlyInline


@admin.register(models.Truck)
class TruckAdmin(admin.ModelAdmin):
    list_display = ["code", "plate", "plant", "capacity", "unit", "last_position_at", "active"]
    list_filter = ["plant", "active"]
    search_fields = ["code", "plate", "telematics_id"]
    readonly_fields = ["last_lat", "last_lon", "last_speed", "last_heading", "last_position_at"]


@admin.register(models.Driver)
class DriverAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "phone", "plant", "active"]
    list_filter = ["plant", "active"]
    search_fields = ["code", "name", "phone"]
    raw_id_fields = ["user"]


class JobInline(ReadOnlyInline):
    model = models.Job
    fields = ["sequence", "ticket", "type", "status", "loading_status", "order", "planned_at", "eta"]
    readonly_fields = fields
    show_change_link = True


class JobLineInline(ReadOnlyInline):
    model = models.JobLine
    fields = ["order_line", "planned", "loaded", "delivered", "returned"]
    readonly_fields = fields


class JobEventInline(ReadOnlyInline):
    model = models.JobEvent
    fk_name = "job"
    fields = ["at", "type", "status", "applied", "actor", "lat", "lon", "note", "data"]
    readonly_fields = fields


class TourEventInline(JobEventInline):
    fk_name = "tour"


class ReadMostlyAdmin(admin.ModelAdmin):
    """Status and quantities change only through the services (state machines, events, outbox)."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


@admin.register(models.Tour)
class TourAdmin(ReadMostlyAdmin):
    list_display = ["number", "date", "plant", "truck", "driver", "status", "planned_start", "planned_end"]
    list_filter = ["status", "plant", "date"]
    search_fields = ["number", "truck__code", "driver__code", "driver__name"]
    date_hierarchy = "date"
    inlines = [JobInline, TourEventInline]
    list_select_related = ["plant", "truck", "driver"]


@admin.register(models.Job)
class JobAdmin(ReadMostlyAdmin):
    list_display = ["ticket", "type", "status", "loading_status", "order", "tour", "planned_at", "eta"]
    list_filter = ["status", "type", "loading_status", "plant"]
    search_fields = ["ticket", "order__number", "tour__number"]
    inlines = [JobLineInline, JobEventInline]
    list_select_related = ["order", "tour"]


@admin.register(models.ProofOfDelivery)
class ProofOfDeliveryAdmin(ReadMostlyAdmin):
    list_display = ["job", "received_by", "signed_at", "sha256"]
    search_fields = ["job__ticket", "received_by", "sha256"]


@admin.register(models.BatchRecord)
class BatchRecordAdmin(ReadMostlyAdmin):
    list_display = ["batch_number", "job", "recipe", "batched_at"]
    search_fields = ["batch_number", "job__ticket"]


@admin.register(models.Message)
class MessageAdmin(ReadMostlyAdmin):
    list_display = [
        "at",
        "sender_role",
        "sender",
        "order",
        "tour",
        "job",
        "driver",
        "read_at",
        "read_by_driver_at",
    ]
    list_filter = ["sender_role"]


@admin.register(models.CallRequest)
class CallRequestAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "status", "reason", "order", "job", "phone", "due_at"]
    list_filter = ["status", "kind"]
    readonly_fields = [
        "kind",
        "status",
        "customer",
        "order",
        "job",
        "requested_by_role",
        "requested_by",
        "phone",
        "reason",
        "due_at",
        "created_at",
        "closed_at",
    ]
