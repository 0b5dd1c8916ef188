"""ERP sync writes used by the admin and the operations commands."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from erp_sync import secrets
from erp_sync.models import InboxMessage
from oms.models import ErpSystem, OutboxMessage, OutboxStatus
from oms.outbox import _nudge_relay


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
