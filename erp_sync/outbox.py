"""The interface the domain apps use to tell ERPs something: `outbox_enqueue` (DESIGN §2).

Call it inside the domain transaction. The row commits with the change or not at all; a relay nudge
is sent after commit, and the periodic sweep delivers anything a lost nudge left behind.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from erp_sync.models import ErpSystem, OutboxAggregate, OutboxMessage

logger = logging.getLogger(__name__)


def _next_sequence(aggregate_type: str, aggregate_id: str) -> int:
    """Increment the aggregate's counter atomically; its row lock orders concurrent enqueues."""
    table = connection.ops.quote_name(OutboxAggregate._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (aggregate_type, aggregate_id, last_sequence) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET last_sequence = {table}.last_sequence + 1 "
            f"RETURNING last_sequence",
            [aggregate_type, aggregate_id],
        )
        return int(cursor.fetchone()[0])


def route_system(*, plant=None, system: ErpSystem | None = None) -> ErpSystem | None:
    """The ERP owning the plant, else the default ERP, else None (kept pending until one exists)."""
    if system is not None:
        return system
    if plant is not None and plant.erp_system_id:
        return plant.erp_system
    return ErpSystem.objects.filter(is_default=True, enabled=True).first()


def outbox_enqueue(
    *,
    type: str,
    aggregate_type: str,
    aggregate_id: str,
    payload: dict[str, Any],
    version: int = 1,
    plant=None,
    system: ErpSystem | None = None,
) -> OutboxMessage:
    """Write one outbound message (must run inside the caller's transaction)."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue must run inside the domain transaction")
    now = timezone.now()
    message = OutboxMessage.objects.create(
        system=route_system(plant=plant, system=system),
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        sequence=_next_sequence(aggregate_type, str(aggregate_id)),
        version=version,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    transaction.on_commit(_nudge_relay)
    return message


def _nudge_relay() -> None:
    """Best effort: a lost nudge only costs latency (the sweep picks the row up)."""
    try:
        from erp_sync import tasks
    except ImportError:
        return
    nudge = getattr(tasks, "relay_nudge", None)
    if nudge is None:
        return
    try:
        nudge.apply_async(retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the request
        logger.warning("could not nudge the outbox relay; the sweep will deliver", exc_info=True)


def external_refs_for(obj) -> dict[str, str]:
    """{ERP system code: external id} of a local object (e.g. a customer's ERP numbers)."""
    from django.contrib.contenttypes.models import ContentType

    from erp_sync.models import ExternalRef

    ct = ContentType.objects.get_for_model(type(obj))
    return dict(
        ExternalRef.objects.filter(content_type=ct, object_id=str(obj.pk)).values_list(
            "system__code", "external_id"
        )
    )
