"""Inbound messages: store every one in the inbox first, then apply them in batches.

Storing is idempotent per (system, id) whatever the transport (pull, webhook, file drop). Applying
takes the version-row locks of a batch of entities (skipping entities another worker holds), then
applies their waiting messages in arrival order, each entity's lowest version first, every message
in a savepoint of its own: a message that fails rolls back alone and is marked `failed` with a
readable error, never blocking the rest; a version not newer than the last applied one is `stale`.
The batch commits once (`OMS_INBOX_APPLY_BATCH` messages). Runs of new ERP orders (`order.upsert`
of unknown orders) are placed together through `erp_orders_import`, with the same rows as one by
one; if that import fails, each of its messages is applied alone. A batch that fails on the database
itself (deadlock, lost connection) is retried one message per transaction.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from erp_sync import envelope
from erp_sync.handlers import BULK_HANDLERS, ENTITY_TYPES, HANDLERS, Context
from erp_sync.models import EntityVersion, InboxMessage, SyncRun
from oms.lib.actors import Actor
from oms.models import ErpSystem

logger = logging.getLogger(__name__)
Status = InboxMessage.Status

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
WRONG_ENTITY = "entity.type {entity!r} does not fit message type {type!r} (expected {expected})."


@dataclass(frozen=True)
class StoreResult:
    id: str | None
    status: str
    error: str = ""
    recorded_as: str = ""

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.error:
            result["error"] = self.error
        return result


def _validate(parsed: envelope.Parsed) -> str:
    if parsed.error or parsed.payload is None:
        return parsed.error
    problem = envelope.validate_inbound(parsed.payload)
    if problem:
        return problem
    expected = ENTITY_TYPES[parsed.type]
    if parsed.entity_type not in expected:
        return WRONG_ENTITY.format(
            entity=parsed.entity_type, type=parsed.type, expected=" or ".join(sorted(expected))
        )
    return ""


def inbox_store_batch(
    *, system: ErpSystem, body: bytes | None = None, messages: list[Any] | None = None, source: str
) -> list[StoreResult]:
    """Store a batch (`{"messages": [...]}` as raw bytes, or already decoded messages).

    Returns one result per message in order. Stores unusable input as failed under generated ids.
    Commit happens before returning, so a caller may acknowledge the batch to its sender.
    """
    parsed: list[envelope.Parsed]
    if messages is None:
        value, error = envelope.parse_bytes(body or b"")
        if error:
            parsed = [envelope._unusable((body or b"").decode("utf-8", "replace"), error)]
        elif not isinstance(value, dict) or not isinstance(value.get("messages"), list):
            text = (body or b"").decode("utf-8", "replace")
            parsed = [envelope._unusable(text, 'The body is not an object with a "messages" list.')]
        else:
            parsed = [envelope.parse_message(m) for m in value["messages"]]
    else:
        parsed = [envelope.parse_message(m) for m in messages]
    return _store(system=system, parsed=parsed, source=source)


def _store(
    *,
    system: ErpSystem,
    parsed: list[envelope.Parsed],
    source: str,
    after_store=None,
    received_at: datetime | None = None,
) -> list[StoreResult]:
    now = received_at or timezone.now()
    ids = [p.message_id for p in parsed if not p.generated_id]
    with transaction.atomic():
        existing = set(
            InboxMessage.objects.filter(system=system, message_id__in=ids).values_list(
                "message_id", flat=True
            )
        )
        results: list[StoreResult] = []
        rows: list[InboxMessage] = []
        for p in parsed:
            if p.generated_id:
                rows.append(_row(system, p, source, now, p.error))
                results.append(StoreResult(id=None, status=REJECTED, error=p.error, recorded_as=p.message_id))
                continue
            if p.message_id in existing:
                results.append(StoreResult(id=p.message_id, status=DUPLICATE))
                continue
            existing.add(p.message_id)
            rows.append(_row(system, p, source, now, _validate(p)))
            results.append(StoreResult(id=p.message_id, status=ACCEPTED))
        # ignore_conflicts: a concurrent transport storing the same id wins; ours is then a no-op.
        InboxMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        if after_store is not None:
            after_store()
        if any(r.status == Status.RECEIVED for r in rows):
            transaction.on_commit(_nudge_apply)
    return results


def _row(system: ErpSystem, p: envelope.Parsed, source: str, now: datetime, error: str) -> InboxMessage:
    return InboxMessage(
        system=system,
        message_id=p.message_id,
        type=p.type,
        entity_type=p.entity_type,
        entity_key=p.entity_key,
        entity_version=p.entity_version,
        occurred_at=p.occurred_at,
        payload=p.payload,
        raw=p.raw,
        status=Status.FAILED if error else Status.RECEIVED,
        source=source,
        error=error,
        received_at=now,
        processed_at=now if error else None,
    )


def inbox_store_page(*, system: ErpSystem, page, source: str = "pull") -> list[StoreResult]:
    """Store one pulled page and advance the cursor in the same transaction (never before)."""

    def advance() -> None:
        fields: dict[str, Any] = {"last_pull_at": timezone.now()}
        if page.next_cursor is not None:
            fields["pull_cursor"] = page.next_cursor
        ErpSystem.objects.filter(pk=system.pk).update(**fields)

    parsed = [envelope.parse_message(m) for m in page.messages]
    parsed += [envelope._unusable(raw, error) for raw, error in page.unusable]
    results = _store(system=system, parsed=parsed, source=source, after_store=advance)
    if page.on_stored is not None:
        page.on_stored()
    return results


def _nudge_apply() -> None:
    try:
        from erp_sync.tasks import apply_pending

        apply_pending.apply_async(retry=False, ignore_result=True)
    except Exception:  # noqa: BLE001 - the periodic apply sweep picks the rows up
        logger.warning("could not nudge the inbox apply; the sweep will apply", exc_info=True)


# --- applying -----------------------------------------------------------------------------------

BUSY = "busy"

Entity = tuple[int, str, str]  # (system_id, entity_type, entity_key)


def _of_entities(queryset, entities):
    """Rows of these entities: `IN` filters per column (an OR of 200 triples costs more to build than
    to run); the few rows of other entities this may match are dropped by the caller."""
    return queryset.filter(
        system_id__in={e[0] for e in entities},
        entity_type__in={e[1] for e in entities},
        entity_key__in={e[2] for e in entities},
    )


def _ensure_entity_versions(entities: list[Entity]) -> None:
    """Create missing version rows at 0 (autocommitted on their own: the insert holds no lock)."""
    if connection.vendor != "postgresql":
        EntityVersion.objects.bulk_create(
            [EntityVersion(system_id=s, entity_type=t, entity_key=k, version=0) for s, t, k in entities],
            ignore_conflicts=True,
        )
        return
    table = connection.ops.quote_name(EntityVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (system_id, entity_type, entity_key, version) "  # noqa: S608
            f"SELECT s, t, k, 0 FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS e(s, t, k) "
            f"ON CONFLICT (system_id, entity_type, entity_key) DO NOTHING",
            [[e[0] for e in entities], [e[1] for e in entities], [e[2] for e in entities]],
        )


@dataclass(slots=True)
class _Version:
    """An entity's version row, locked by this batch: `applied` as read, `version` as it goes."""

    pk: int
    applied: int
    version: int


def _version_order(version: int | None, pk: int) -> tuple:
    """Waiting messages of one entity apply lowest version first (a missing version before all)."""
    return (version is not None, version or 0, pk)


def inbox_apply_next(*, system_id: int, entity_type: str, entity_key: str, wait: bool = True) -> str | None:
    """Apply the lowest-version waiting message of one entity in a transaction of its own.

    Returns its outcome, None if none waits, BUSY if another worker holds the entity (`wait=False`).
    """
    outcomes = _apply_batch([(system_id, entity_type, entity_key)], limit=1, wait=wait)
    if outcomes is None:
        return BUSY
    return outcomes[0][1] if outcomes else None


def _apply_batch(entities: list[Entity], *, limit: int, wait: bool = False):
    """Apply up to `limit` waiting messages of these entities in one transaction.

    Takes the entities' version-row locks (skipping those another worker holds), then applies their
    waiting messages in arrival order, each entity's in version order: the n-th message of an entity
    in arrival order is its n-th lowest waiting version. Returns [(system_id, outcome)] in the order
    applied, or None when every entity was busy.
    """
    now = timezone.now()
    _ensure_entity_versions(entities)
    with transaction.atomic():
        wanted = set(entities)
        locked = _of_entities(EntityVersion.objects.select_for_update(skip_locked=not wait), entities)
        versions = {
            (system_id, entity_type, entity_key): _Version(pk, version, version)
            for pk, system_id, entity_type, entity_key, version in locked.order_by("pk").values_list(
                "pk", "system_id", "entity_type", "entity_key", "version"
            )
            if (system_id, entity_type, entity_key) in wanted
        }
        if not versions:
            return None
        waiting = [
            row
            for row in _of_entities(
                InboxMessage.objects.filter(status=Status.RECEIVED, received_at__lte=now), versions
            )
            .order_by("pk")
            .values_list("pk", "system_id", "entity_type", "entity_key", "entity_version")
            if row[1:4] in versions
        ]
        slots: dict[Entity, list[int]] = {}
        order_key: dict[int, tuple] = {}
        for pk, system_id, entity_type, entity_key, version in waiting:
            slots.setdefault((system_id, entity_type, entity_key), []).append(pk)
            order_key[pk] = _version_order(version, pk)
        # Slot (an arrival position of the entity) → the message applied in it: lowest version first.
        plan = sorted(
            (slot, message_pk)
            for pks in slots.values()
            for slot, message_pk in zip(pks, sorted(pks, key=order_key.__getitem__), strict=True)
        )[:limit]
        # Plain row locks on the messages (`of=self`): the entity locks already serialise them.
        messages = InboxMessage.objects.select_for_update().in_bulk(
            [message_pk for _slot, message_pk in plan]
        )
        systems = ErpSystem.objects.in_bulk({m.system_id for m in messages.values()})
        for message in messages.values():
            message.system = systems[message.system_id]
        batch = _Batch(versions)
        for _slot, message_pk in plan:
            message = messages.get(message_pk)
            if message is not None and message.status == Status.RECEIVED:
                batch.apply(message)
        batch.flush()
        batch.save()
        return batch.outcomes


class _Batch:
    """One apply transaction: messages are applied in the order given; runs of messages with a bulk
    handler (new ERP orders) are collected and applied together, before anything else touches them."""

    def __init__(self, versions: dict[Entity, _Version]):
        self.versions = versions
        self.finished: list[InboxMessage] = []
        self.outcomes: list[tuple[int, str]] = []
        self.run: list[tuple[InboxMessage, Context]] = []
        self.run_entities: set[Entity] = set()
        self.now = timezone.now()

    @staticmethod
    def entity(message: InboxMessage) -> Entity:
        return (message.system_id, message.entity_type, message.entity_key)

    def apply(self, message: InboxMessage) -> None:
        if self.run and (
            self.entity(message) in self.run_entities
            or (message.type, message.system_id) != (self.run[0][0].type, self.run[0][0].system_id)
        ):
            self.flush()
        ev = self.versions[self.entity(message)]
        version = message.entity_version
        if version is None or version <= ev.version:
            self.finish(
                message, Status.STALE, f"version {version} is not newer than applied version {ev.version}"
            )
            return
        ctx = Context(
            system=message.system,
            message=message,
            data=(message.payload or {}).get("data") or {},
            entity_key=message.entity_key,
            version=version,
            actor=Actor.for_erp(message.system),
        )
        if message.type in BULK_HANDLERS:
            self.run.append((message, ctx))
            self.run_entities.add(self.entity(message))
        else:
            self.apply_one(message, ctx)

    def flush(self) -> None:
        run, self.run = self.run, []
        self.run_entities = set()
        if not run:
            return
        leftover = [ctx for _message, ctx in run]
        if len(run) > 1:
            try:
                with transaction.atomic():
                    leftover = BULK_HANDLERS[run[0][0].type](leftover)
            except (OperationalError, InterfaceError):
                raise
            except Exception:  # noqa: BLE001 - the one-by-one path below finds the message at fault
                logger.info(
                    "bulk apply of %d %s failed; applying one by one", len(run), run[0][0].type, exc_info=True
                )
                leftover = [ctx for _message, ctx in run]
        left = {id(ctx) for ctx in leftover}
        for message, ctx in run:
            if id(ctx) not in left:
                self.processed(message)
        for message, ctx in run:
            if id(ctx) in left:
                self.apply_one(message, ctx)

    def apply_one(self, message: InboxMessage, ctx: Context) -> None:
        try:
            with transaction.atomic():
                HANDLERS[message.type](ctx)
        except (OperationalError, InterfaceError):
            raise  # the database is unwell: the whole batch is retried
        except Exception as exc:  # noqa: BLE001 - any domain or data error fails this message only
            self.finish(message, Status.FAILED, readable_error(exc))
            return
        self.processed(message)

    def processed(self, message: InboxMessage) -> None:
        self.versions[self.entity(message)].version = message.entity_version
        self.finish(message, Status.PROCESSED, "")

    def finish(self, message: InboxMessage, status: str, error: str) -> None:
        message.status, message.error = status, error
        self.finished.append(message)
        self.outcomes.append((message.system_id, status))

    def save(self) -> None:
        _set_versions({ev.pk: ev.version for ev in self.versions.values() if ev.version != ev.applied})
        processed = [m.pk for m in self.finished if m.status == Status.PROCESSED]
        InboxMessage.objects.filter(pk__in=processed).update(
            status=Status.PROCESSED, error="", processed_at=self.now, attempts=F("attempts") + 1
        )
        for message in self.finished:  # stale and failed ones: each with its own error
            if message.status != Status.PROCESSED:
                InboxMessage.objects.filter(pk=message.pk).update(
                    status=message.status,
                    error=message.error,
                    processed_at=self.now,
                    attempts=F("attempts") + 1,
                )


def _set_versions(versions: dict[int, int]) -> None:
    """Write many entity versions with one statement."""
    if not versions:
        return
    if connection.vendor != "postgresql":
        rows = [EntityVersion(pk=pk, version=version) for pk, version in versions.items()]
        EntityVersion.objects.bulk_update(rows, ["version"], batch_size=500)
        return
    table = connection.ops.quote_name(EntityVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS ev SET version = v.version "  # noqa: S608 - quoted table name only
            f"FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, version) WHERE ev.id = v.id",
            [list(versions), list(versions.values())],
        )


def readable_error(exc: BaseException) -> str:
    detail = getattr(exc, "detail", None)
    errors = getattr(exc, "errors", None)
    if isinstance(exc, IntegrityError):
        text = f"Conflicts with existing data: {str(exc).splitlines()[0]}"
    elif detail:
        text = str(detail)
        if errors:
            text = f"{text} {errors}"
    elif hasattr(exc, "messages"):
        text = "; ".join(str(m) for m in exc.messages)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[: envelope.ERROR_CHARS]


def inbox_apply_pending(*, max_seconds: float = 20.0, window: int = 1000) -> tuple[Counter, bool]:
    """Apply waiting messages, oldest first, in batches of entities. Returns (outcomes, more_waiting).

    The entities of the oldest `window` waiting messages are taken in arrival order, so master data
    sent before what refers to it is applied first; a batch whose transaction fails on the database
    is retried one message per transaction. Entities another worker holds are skipped.
    """
    deadline = time.monotonic() + max_seconds
    outcomes: Counter = Counter()
    per_system: dict[int, Counter] = {}
    started = timezone.now()
    while time.monotonic() < deadline:
        heads = list(
            InboxMessage.objects.filter(status=Status.RECEIVED, received_at__lte=timezone.now())
            .order_by("pk")
            .values_list("system_id", "entity_type", "entity_key")[:window]
        )
        if not heads:
            break
        entities = list(dict.fromkeys(heads))
        applied = busy = 0
        size = settings.OMS_INBOX_APPLY_BATCH
        for start in range(0, len(entities), size):
            if time.monotonic() >= deadline:
                break
            chunk = entities[start : start + size]
            try:
                results = _apply_batch(chunk, limit=size)
            except (OperationalError, InterfaceError):
                # Deadlock or a lost connection: nothing of the batch was written. Once more, one
                # message per transaction; if the database is really unwell this raises.
                logger.warning("apply batch failed; retrying one message at a time", exc_info=True)
                results = []
                for entity in chunk:
                    outcome = inbox_apply_next(
                        system_id=entity[0], entity_type=entity[1], entity_key=entity[2], wait=False
                    )
                    if outcome == BUSY:
                        busy += 1
                    elif outcome is not None:
                        results.append((entity[0], outcome))
            if results is None:
                busy += len(chunk)
                continue
            for system_id, outcome in results:
                applied += 1
                outcomes[outcome] += 1
                per_system.setdefault(system_id, Counter())[outcome] += 1
        if not applied:
            if not busy:
                break
            time.sleep(0.05)  # everything left is being applied by other workers right now
    more = InboxMessage.objects.filter(status=Status.RECEIVED, received_at__lte=timezone.now()).exists()
    finished = timezone.now()
    SyncRun.objects.bulk_create(
        SyncRun(
            system_id=system_id,
            direction=SyncRun.Direction.APPLY,
            started_at=started,
            finished_at=finished,
            counts=dict(counts),
            outcome="failed" if counts.get(Status.FAILED) else "ok",
        )
        for system_id, counts in per_system.items()
    )
    return outcomes, more
