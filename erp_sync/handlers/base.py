"""What every handler gets, and the error it raises for a message that cannot be applied."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from erp_sync.models import InboxMessage
from oms.exceptions import DomainError
from oms.lib.actors import Actor
from oms.models import ErpSystem, ExternalRef


class HandlerError(DomainError):
    """The message is well-formed but cannot be applied (unknown reference, impossible change)."""

    code = "erp_message_not_applicable"


@dataclass(frozen=True)
class Context:
    system: ErpSystem
    message: InboxMessage
    data: dict[str, Any]
    entity_key: str
    version: int
    actor: Actor


def decimal(value: str, field: str) -> Decimal:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError) as exc:
        raise HandlerError(f"{field}: {value!r} is not a decimal number.") from exc


def ref_link(ctx: Context, entity_type: str, external_id: str, obj: models.Model) -> None:
    """Remember which local object the ERP's id stands for (upsert; last version kept)."""
    ExternalRef.objects.update_or_create(
        system=ctx.system,
        entity_type=entity_type,
        external_id=external_id,
        defaults={
            "content_type": ContentType.objects.get_for_model(type(obj)),
            "object_id": str(obj.pk),
            "last_version": ctx.version,
        },
    )


def ref_target(system: ErpSystem, entity_type: str, external_id: str, model: type[models.Model]):
    ref = (
        ExternalRef.objects.filter(system=system, entity_type=entity_type, external_id=external_id)
        .values_list("object_id", flat=True)
        .first()
    )
    if ref is None:
        return None
    return model._default_manager.filter(pk=ref).first()
