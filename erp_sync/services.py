"""ERP sync writes used by the admin, the console and the operations commands."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from erp_sync import secrets
from erp_sync.models import InboxMessage, OrderDrift, OutboxSample
from erp_sync.selectors import outbox_waiting
from oms.exceptions import InvalidTransition, NotFound
from oms.lib.actors import Actor
from oms.models import ErpSystem, OutboxMessage, OutboxStatus
from oms.outbox import _nudge_relay

DRIFT_RESOLVED = gettext_noop("This drift is already resolved.")
# The outbox backlog is sampled every SAMPLE_SECONDS; samples are kept for SAMPLE_RETENTION.
SAMPLE_SECONDS = 300
SAMPLE_RETENTION = timedelta(days=8)


def outbox_sample_take(*, now: datetime | None = None) -> bool:
    """Record the backlog for the current slot (once: a second run of the slot writes nothing) and
    drop the samples past their retention. True when this run wrote the slot's sample."""
    now = now or timezone.now()
    slot = datetime.fromtimestamp(now.timestamp() // SAMPLE_SECONDS * SAMPLE_SECONDS, tz=now.tzinfo)
    waiting, oldest = outbox_waiting()
    _sample, created = OutboxSample.objects.get_or_create(
        at=slot, defaults={"waiting": waiting, "oldest_created_at": oldest}
    )
    OutboxSample.objects.filter(at__lt=now - SAMPLE_RETENTION).delete()
    return created


@transaction.atomic
def outbox_replay(*, ids: list[str] | None = None, aggregate: tuple[str, str] | None = None) -> int:
    """Put dead messages back to pending, in sequence order (the relay keeps per-aggregate order)."""
    qs = OutboxMessage.objects.select_for_update().filter(status=OutboxStatus.DEAD)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if aggregate is not None:
        qs = qs.filter(aggregate_type=aggregate[0], aggregate_id=aggregate[1])
    pks = list(qs.order_by("aggregate_type", "aggregate_id", "sequence").values_list("pk", flat=True))
    if not pks:
        return 0
    now = timezone.now()
    OutboxMessage.objects.filter(pk__in=pks).update(
        status=OutboxStatus.PENDING, next_attempt_at=now, attempts=0
    )
    transaction.on_commit(_nudge_relay)
    return len(pks)


@transaction.atomic
def inbox_reapply(*, ids: list[int]) -> int:
    """Failed inbox messages back to `received` (e.g. after the master data they needed arrived)."""
    count = InboxMessage.objects.filter(
        pk__in=ids, status=InboxMessage.Status.FAILED, payload__isnull=False
    ).update(status=InboxMessage.Status.RECEIVED, error="", processed_at=None, received_at=timezone.now())
    if count:
        from erp_sync.inbound import _nudge_apply

        transaction.on_commit(_nudge_apply)
    return count


def erp_system_configure(
    *,
    code: str,
    adapter: str,
    base_url: str | None = None,
    token: str | None = None,
    secret: str | None = None,
    poll_seconds: int | None = None,
    enabled: bool = True,
    name: str | None = None,
    is_default: bool | None = None,
    pk: int | None = None,
) -> tuple[ErpSystem, str]:
    """Create or update an ERP connection. Returns (system, "created" | "updated" | "unchanged").

    The connection is the one with `code`, or the one with `pk` (the admin, which may rename it).
    None leaves a field as it is (a new connection is named after its code). Credentials are
    encrypted (`erp_sync.secrets`) and re-encrypted only when they change, so a repeated call writes
    nothing. Without an explicit `is_default`, the first enabled system becomes the default when
    there is none (orders of plants no ERP owns).
    """
    with transaction.atomic():
        lookup = {"pk": pk} if pk is not None else {"code": code}
        system = ErpSystem.objects.select_for_update().filter(**lookup).first()
        created = system is None
        if created:
            system = ErpSystem(code=code, name=code)
        changed: list[str] = []

        def put(field: str, value) -> None:
            if getattr(system, field) != value:
                setattr(system, field, value)
                changed.append(field)

        put("code", code)
        if name is not None:
            put("name", name)
        put("adapter", adapter)
        put("enabled", enabled)
        if base_url is not None:
            put("base_url", base_url)
        if poll_seconds is not None:
            put("poll_seconds", poll_seconds)
        if token is not None and secrets.decrypt(system.token_encrypted) != token:
            put("token_encrypted", secrets.encrypt(token))
        if secret is not None and secrets.decrypt(system.secret_encrypted) != secret:
            put("secret_encrypted", secrets.encrypt(secret))
        if is_default is not None:
            put("is_default", is_default)
        elif enabled and not ErpSystem.objects.filter(is_default=True).exclude(pk=system.pk).exists():
            put("is_default", True)
        if created or changed:
            system.save()
    return system, "created" if created else ("updated" if changed else "unchanged")


CREDENTIAL_FIELDS = ("token_encrypted", "secret_encrypted")


@transaction.atomic
def erp_credentials_rotate() -> tuple[int, list[str]]:
    """Re-encrypt every stored ERP token and secret under the first key of `OMS_CREDENTIAL_KEYS`.

    Returns (values re-encrypted, codes of the systems with a value no key can read). An unreadable
    value is left as it is: it must be set again (`oms_erp_system`), a key cannot bring it back.
    """
    rotated, unreadable = 0, []
    for system in ErpSystem.objects.select_for_update().order_by("code"):
        changed = []
        for field in CREDENTIAL_FIELDS:
            stored = getattr(system, field)
            if not stored:
                continue
            fresh = secrets.reencrypt(stored)
            if fresh is None:
                unreadable.append(system.code)
                continue
            setattr(system, field, fresh)
            changed.append(field)
        if changed:
            system.save(update_fields=changed)
            rotated += len(changed)
    return rotated, sorted(set(unreadable))


@transaction.atomic
def drift_resolve(*, drift: OrderDrift, actor: Actor) -> list[OrderDrift]:
    """Resend the OMS's view of the drift's order to the drift's ERP, and mark the drift resolved
    (`resent`, by `actor`). Returns the drifts resolved.

    The messages are the ones that carry the order's state (docs/erp-integration.md, Order state):
    `order.created` again when the ERP did not know the order, then `item.positions` with every line's
    quantities, then `order.cancelled` when the OMS order is cancelled. They answer every open drift
    of that order with that ERP, so those are resolved with it. They go through the outbox, after
    the order's earlier messages; the next comparison shows whether the ERP took them in.
    Raises `InvalidTransition` when the drift is already resolved.
    """
    from orders.models import OrderStatus
    from orders.payloads import order_cancelled, order_created
    from orders.services.events import order_event
    from orders.services.lifecycle import lock_order, order_item_positions_message

    found = OrderDrift.objects.filter(pk=drift.pk).values_list("system_id", "order_id").first()
    if found is None:
        raise NotFound()
    system_id, order_id = found
    # All open drifts of the order with this ERP, locked in primary-key order like the comparison.
    drifts = list(
        OrderDrift.objects.select_for_update()
        .filter(system_id=system_id, order_id=order_id, resolved_at__isnull=True)
        .order_by("pk")
    )
    if drift.pk not in {d.pk for d in drifts}:
        raise InvalidTransition(DRIFT_RESOLVED)
    system = ErpSystem.objects.get(pk=system_id)
    order = lock_order(drifts[0].order)
    lines = list(order.lines.order_by("position"))
    if any(d.field == OrderDrift.Field.UNKNOWN for d in drifts):
        created = order_created(order, lines)
        created["status"] = OrderStatus.PLACED  # the contract's status at placement
        order_event(
            order,
            "erp.order_resent",
            actor=actor,
            visible=False,
            data={"system": system.code},
            outbox_type="order.created",
            outbox_payload=created,
            system=system,
        )
    order_item_positions_message(order, actor=actor, lines=lines, system=system)
    if order.status == OrderStatus.CANCELLED:
        reason = (
            order.events.filter(type="order.cancelled")
            .order_by("-at", "-pk")
            .values_list("data", flat=True)
            .first()
            or {}
        ).get("reason")
        order_event(
            order,
            "erp.cancel_sent",
            actor=actor,
            visible=False,
            data={"reason": reason, "system": system.code},
            outbox_type="order.cancelled",
            outbox_payload=order_cancelled(order, reason),
            system=system,
        )
    now = timezone.now()
    OrderDrift.objects.filter(pk__in=[d.pk for d in drifts]).update(
        resolved_at=now, resolution=OrderDrift.Resolution.RESENT, resolved_by=actor.name[:150]
    )
    order_event(
        order,
        "erp.drift_resent",
        actor=actor,
        visible=False,
        data={
            "system": system.code,
            "drifts": [
                {"field": d.field, "position": d.position, "oms": d.oms_value, "erp": d.erp_value}
                for d in drifts
            ],
        },
    )
    for d in drifts:
        d.resolved_at, d.resolution, d.resolved_by = now, OrderDrift.Resolution.RESENT, actor.name[:150]
    return drifts
