"""Reads shared by several console pages: open statuses and an object's ERP references."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType

from fleet.models import CallRequest, JobStatus
from oms.models import ExternalRef
from orders.models import ReturnStatus

OPEN_CALLS = (CallRequest.Status.OPEN, CallRequest.Status.IN_PROGRESS)
OPEN_RETURNS = (ReturnStatus.REQUESTED, ReturnStatus.APPROVED, ReturnStatus.PICKUP_SCHEDULED)
CLOSED_JOB = frozenset({JobStatus.DELIVERED, JobStatus.FAILED, JobStatus.CANCELLED})


def erp_refs_of(obj) -> list[ExternalRef]:
    """The ERP external references of any object, by system and entity type."""
    ct = ContentType.objects.get_for_model(type(obj))
    return list(
        ExternalRef.objects.filter(content_type=ct, object_id=str(obj.pk))
        .select_related("system")
        .order_by("system__code", "entity_type")
    )
