"""Reads of the order export: the filtered order list and the user's export files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet

from console.services import EXPORTS_FOLDER, PREPARING, export_path, is_export_name
from orders.models import Order

EXPORT_FILTERS = (
    "status",
    "channel",
    "plant",
    "erp_sync_state",
    "fulfilment",
    "q",
    "created_from",
    "created_to",
)


def order_export_queryset(filters: dict[str, Any]) -> QuerySet[Order]:
    """The filtered order list of the export (same filters in the view and the Celery task)."""
    qs = Order.objects.select_related("customer", "plant", "erp_system", "site")
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    if filters.get("plant"):
        qs = qs.filter(plant_id=filters["plant"])
    if filters.get("erp_sync_state"):
        qs = qs.filter(erp_sync_state=filters["erp_sync_state"])
    if filters.get("fulfilment"):
        qs = qs.filter(fulfilment=filters["fulfilment"])
    if filters.get("created_from"):
        qs = qs.filter(created_at__date__gte=filters["created_from"])
    if filters.get("created_to"):
        qs = qs.filter(created_at__date__lte=filters["created_to"])
    if q := (filters.get("q") or "").strip():
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(external_ref__icontains=q)
            | Q(erp_order_number__icontains=q)
            | Q(customer__number__icontains=q)
            | Q(customer__name__icontains=q)
        )
    return qs.order_by("-created_at", "-id")


def order_export_count(filters: dict[str, Any], *, cap: int) -> int:
    """How many orders the export has, counted up to `cap` (enough to choose how to run it)."""
    return order_export_queryset(filters)[:cap].count()


def order_export_iterator(filters: dict[str, Any], *, chunk_size: int = 1000) -> Iterator[Order]:
    """The export's orders, streamed from the database in chunks."""
    return order_export_queryset(filters).iterator(chunk_size=chunk_size)


def export_files(user_id: int) -> list[dict[str, Any]]:
    """The user's export files, newest first; a file still being written is not `ready`."""
    folder = export_path(user_id)
    try:
        _, names = default_storage.listdir(folder)
    except FileNotFoundError:
        return []
    files = []
    for name in names:
        ready = not name.endswith(PREPARING)
        if not is_export_name(name.removesuffix(PREPARING)):
            continue
        files.append(
            {
                "name": name.removesuffix(PREPARING),
                "ready": ready,
                "size": default_storage.size(folder + name),
                "at": default_storage.get_modified_time(folder + name),
            }
        )
    return sorted(files, key=lambda f: f["at"], reverse=True)


def exports_older_than(cutoff: datetime) -> Iterator[str]:
    """Storage names of every user's export files (and markers) last written before `cutoff`.

    Only the storage API: folders and times come from `listdir` and `get_modified_time`, which the
    local disk and an S3 bucket (prefixes, `LastModified`) both answer.
    """
    try:
        folders, _ = default_storage.listdir(EXPORTS_FOLDER)
    except FileNotFoundError:
        return
    for folder in folders:
        if not folder.isdigit():
            continue
        prefix = f"{EXPORTS_FOLDER}{folder}/"
        _, names = default_storage.listdir(prefix)
        for name in names:
            if not is_export_name(name.removesuffix(PREPARING)):
                continue
            if default_storage.get_modified_time(prefix + name) < cutoff:
                yield prefix + name
