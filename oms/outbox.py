"""The interface the domain apps use to tell ERPs something: `outbox_enqueue` (docs/architecture.md).

Call it inside the domain transaction. The row commits with the change or not at all; a relay nudge
is sent after commit, and the periodic sweep delivers anything a lost nudge left behind.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from oms.lib.redis import redis_client
from oms.models import ErpSystem, OutboxAggregate, OutboxMessage

logger = logging.getLogger(__name__)

RELAY_NUDGE_TASK = "erp_sync.tasks.relay_nudge"


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
    message = OutboxMessage(
        type=type,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        version=version,
        payload=payload,
        next_attempt_at=now,
        created_at=now,
    )
    if connection.vendor == "postgresql":
        owner = system.pk if system is not None else getattr(plant, "erp_system_id", None)
        _insert_routed(message, system_id=owner)
    else:
        message.system = route_system(plant=plant, system=system)
        message.sequence = _next_sequence(aggregate_type, message.aggregate_id)
        message.save(force_insert=True)
    transaction.on_commit(_nudge_relay)
    return message


_ROUTED_SQL: dict[str, tuple[str, list]] = {}


def _routed_statement(db) -> tuple[str, list]:
    """The statement of `_insert_routed` and the message fields it writes, built once per database."""
    if db.alias not in _ROUTED_SQL:
        qn = db.ops.quote_name
        aggregates, systems = qn(OutboxAggregate._meta.db_table), qn(ErpSystem._meta.db_table)
        fields = [
            f for f in OutboxMessage._meta.concrete_fields if f.attname not in ("system_id", "sequence")
        ]
        columns = ", ".join(qn(f.column) for f in fields)
        values = ", ".join(["%s"] * len(fields))
        _ROUTED_SQL[db.alias] = (
            f"WITH seq AS (INSERT INTO {aggregates} (aggregate_type, aggregate_id, last_sequence) "  # noqa: S608
            f"VALUES (%s, %s, 1) ON CONFLICT (aggregate_type, aggregate_id) "
            f"DO UPDATE SET last_sequence = {aggregates}.last_sequence + 1 RETURNING last_sequence) "
            f"INSERT INTO {qn(OutboxMessage._meta.db_table)} ({columns}, system_id, sequence) "
            f"SELECT {values}, COALESCE(%s, (SELECT id FROM {systems} WHERE is_default AND enabled "
            f"ORDER BY id LIMIT 1)), seq.last_sequence FROM seq RETURNING system_id, sequence",
            fields,
        )
    return _ROUTED_SQL[db.alias]


def _insert_routed(message: OutboxMessage, *, system_id: int | None) -> None:
    """PostgreSQL: next aggregate sequence, routing to the default ERP when no system is given, and
    the row itself, in one statement (what `route_system` + `_next_sequence` + INSERT do)."""
    db = connections[DEFAULT_DB_ALIAS]
    sql, fields = _routed_statement(db)
    params = [message.aggregate_type, message.aggregate_id]
    params += [f.get_db_prep_save(f.pre_save(message, add=True), db) for f in fields]
    with db.cursor() as cursor:
        cursor.execute(sql, [*params, system_id])
        message.system_id, message.sequence = cursor.fetchone()
    message._state.adding = False
    message._state.db = db.alias


# While a relay nudge is queued and its run has not started, later commits need not queue another:
# the run clears this flag before it reads what is due. Needs Redis (shared with the workers).
NUDGE_FLAG = "oms:erp:relay-nudge-queued"
NUDGE_FLAG_SECONDS = 5


def _nudge_relay() -> None:
    """Best effort: a lost nudge only costs latency (the sweep picks the row up)."""
    client = redis_client()
    if client is not None:
        try:
            if not client.set(NUDGE_FLAG, 1, nx=True, ex=NUDGE_FLAG_SECONDS):
                return  # a queued nudge will send this row too
        except Exception:  # noqa: BLE001 - without the flag every commit nudges
            logger.warning("could not coalesce the relay nudge", exc_info=True)
    from oms.celery import app

    try:
        # By name: the relay lives in erp_sync, above this platform module. The registered task when
        # this process has it (so eager mode runs it), else a message to the workers that do.
        task = app.tasks.get(RELAY_NUDGE_TASK)
        if task is not None:
            task.apply_async(retry=False, ignore_result=True)
        else:
            app.send_task(RELAY_NUDGE_TASK, retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 - the broker being down must not fail the request
        logger.warning("could not nudge the outbox relay; the sweep will deliver", exc_info=True)


def relay_nudge_started() -> None:
    """Called by the relay run before it reads what is due: commits from now on nudge again."""
    client = redis_client()
    if client is None:
        return
    try:
        client.delete(NUDGE_FLAG)
    except Exception:  # noqa: BLE001 - the flag expires by itself
        logger.warning("could not clear the relay nudge flag", exc_info=True)


def external_refs_for(obj) -> dict[str, str]:
    """{ERP system code: external id} of a local object (e.g. a customer's ERP numbers).

    Plain SQL: it runs inside every order placement, where compiling the ORM join cost more than
    running it."""
    from django.contrib.contenttypes.models import ContentType

    from oms.models import ExternalRef

    qn = connection.ops.quote_name
    refs, systems = qn(ExternalRef._meta.db_table), qn(ErpSystem._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.code, r.external_id FROM {refs} r JOIN {systems} s ON s.id = r.system_id "  # noqa: S608
            f"WHERE r.content_type_id = %s AND r.object_id = %s",
            [ContentType.objects.get_for_model(type(obj)).pk, str(obj.pk)],
        )
        return dict(cursor.fetchall())
