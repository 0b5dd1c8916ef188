"""Reads shared by several console pages: open statuses, staff days and an object's ERP references."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from fleet.models import CallRequest, JobStatus
from oms.models import ExternalRef
from orders.models import ReturnStatus

OPEN_CALLS = (CallRequest.Status.OPEN, CallRequest.Status.IN_PROGRESS)
OPEN_RETURNS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED)
CLOSED_JOB = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED})


def day_start(day: date | str) -> datetime:
    """The start of `day` (a date or its ISO form) where the staff work (`OMS_DISPLAY_TIME_ZONE`), aware.

    Staff pick days in their own zone; filtering on it explicitly gives the same rows in a request
    and in a Celery task (an export), whatever time zone happens to be active.
    """
    if isinstance(day, str):
        day = date.fromisoformat(day)
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.OMS_DISPLAY_TIME_ZONE))


def day_end(day: date | str) -> datetime:
    """The start of the staff's next day: `field__lt=day_end(day)` is "on or before `day`"."""
    return day_start(day) + timedelta(days=1)


def erp_refs_of(obj) -> list[ExternalRef]:
    """The ERP external references of any object, by system and entity type."""
    ct = ContentType.objects.get_for_model(type(obj))
    return list(
        ExternalRef.objects.filter(content_type=ct, object_id=str(obj.pk))
        .select_related("system")
        .order_by("system__code", "entity_type")
    )
