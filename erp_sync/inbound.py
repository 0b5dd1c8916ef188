"""Inbound messages: store every one in the inbox first, then apply each in its own transaction.

Storing is idempotent per (system, id) whatever the transport (pull, webhook, file drop). Applying
takes the entity's `EntityVersion` row lock, then the lowest-version waiting message of that entity,
so concurrent workers never reorder one entity's messages; a version that is not newer than the last
applied one is `stale`; a domain error marks the message `failed` and never blocks the rest.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from erp_sync import envelope
from erp_sync.handlers import ENTITY_TYPES, HANDLERS, Context
from erp_sync.models import EntityVersion, ErpSystem, InboxMessage, SyncRun
from oms.lib.actors import Actor

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


def erp_actor(system: ErpSystem) -> Actor:
    return Actor(kind="erp", name=system.code, channel="erp")


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


def _ensure_entity_version(system_id: int, entity_type: str, entity_key: str) -> None:
    """Create the entity's version row at 0 if missing (a statement of its own: holds no lock)."""
    table = connection.ops.quote_name(EntityVersion._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (system_id, entity_type, entity_key, version) VALUES (%s, %s, %s, 0) "  # noqa: S608
            f"ON CONFLICT (system_id, entity_type, entity_key) DO NOTHING",
            [system_id, entity_type, entity_key],
        )


def inbox_apply_next(*, system_id: int, entity_type: str, entity_key: str, wait: bool = True) -> str | None:
    """Apply the lowest-version waiting message of one entity. Returns its outcome, None if none.

    The entity's `EntityVersion` row lock serialises its messages. With `wait=False` an entity
    another worker is applying right now is skipped (returns BUSY) instead of waited for.
    """
    now = timezone.now()
    _ensure_entity_version(system_id, entity_type, entity_key)
    with transaction.atomic():
        ev = (
            EntityVersion.objects.select_for_update(skip_locked=not wait)
            .filter(system_id=system_id, entity_type=entity_type, entity_key=entity_key)
            .first()
        )
        if ev is None:
            return BUSY
        # Plain row lock on the message only (`of=self`): the entity lock already serialises its
        # messages, and skipping a locked row here could apply a later version first.
        message = (
            InboxMessage.objects.select_for_update(of=("self",))
            .filter(
                system_id=system_id,
                entity_type=entity_type,
                entity_key=entity_key,
                status=Status.RECEIVED,
                received_at__lte=now,
            )
            .select_related("system")
            .order_by(F("entity_version").asc(nulls_first=True), "pk")
            .first()
        )
        if message is None:
            return None
        return _apply_locked(message, ev)


def inbox_apply_message(message_id: int) -> str | None:
    """Apply one message by primary key (through its entity, so older versions go first)."""
    row = (
        InboxMessage.objects.filter(pk=message_id, status=Status.RECEIVED)
        .values("system_id", "entity_type", "entity_key")
        .first()
    )
    if row is None:
        return None
    return inbox_apply_next(**row)


def _apply_locked(message: InboxMessage, ev: EntityVersion) -> str:
    version = message.entity_version
    payload = message.payload or {}
    if version is None or version <= ev.version:
        _finish(message, Status.STALE, f"version {version} is not newer than applied version {ev.version}")
        return Status.STALE
    handler = HANDLERS[message.type]
    ctx = Context(
        system=message.system,
        message=message,
        data=payload.get("data") or {},
        entity_key=message.entity_key,
        version=version,
        actor=erp_actor(message.system),
    )
    try:
        with transaction.atomic():
            handler(ctx)
    except (OperationalError, InterfaceError):
        raise  # the database is unwell: leave the message waiting, it is retried
    except Exception as exc:  # noqa: BLE001 - any domain or data error fails this message only
        _finish(message, Status.FAILED, readable_error(exc))
        return Status.FAILED
    EntityVersion.objects.filter(pk=ev.pk).update(version=version)
    _finish(message, Status.PROCESSED, "")
    return Status.PROCESSED


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


def _finish(message: InboxMessage, status: str, error: str) -> None:
    InboxMessage.objects.filter(pk=message.pk).update(
        status=status, error=error, processed_at=timezone.now(), attempts=F("attempts") + 1
    )


def inbox_apply_pending(*, max_seconds: float = 20.0, batch: int = 500) -> tuple[Counter, bool]:
    """Apply waiting messages, oldest first, entity by entity. Returns (outcomes, more_waiting)."""
    deadline = time.monotonic() + max_seconds
    outcomes: Counter = Counter()
    per_system: dict[int, Counter] = {}
    started = timezone.now()
    while time.monotonic() < deadline:
        heads = list(
            InboxMessage.objects.filter(status=Status.RECEIVED, received_at__lte=timezone.now())
            .order_by("pk")
            .values_list("system_id", "entity_type", "entity_key")[:batch]
        )
        if not heads:
            break
        # Each entity as often as it has waiting messages in this window (one transaction each),
        # in arrival order, so master data sent before what refers to it is applied first.
        # Entities another worker holds are skipped.
        applied = busy = 0
        for (system_id, entity_type, entity_key), waiting in Counter(heads).items():
            for _ in range(waiting):
                if time.monotonic() >= deadline:
                    break
                outcome = inbox_apply_next(
                    system_id=system_id, entity_type=entity_type, entity_key=entity_key, wait=False
                )
                if outcome is None:
                    break
                if outcome == BUSY:
                    busy += 1
                    break
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
