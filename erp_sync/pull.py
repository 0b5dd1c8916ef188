"""Pulling inbound messages from an ERP: one puller per ERP at a time (a database lease)."""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter

from django.utils import timezone

from erp_sync.adapters import AuthError, TransportError, adapter_for
from erp_sync.inbound import inbox_store_page
from erp_sync.models import SyncRun
from erp_sync.relay import _pause
from oms.lib.lease import lease_acquire, lease_release
from oms.models import ErpSystem

logger = logging.getLogger(__name__)
PAGE_SIZE = 200
LEASE_SECONDS = 120


def pull_lease_name(system: ErpSystem) -> str:
    return f"erp-pull:{system.code}"


def pull_system(
    system: ErpSystem, *, max_seconds: float = 20.0, page_size: int = PAGE_SIZE
) -> Counter | None:
    """Pull pages until one is empty or time is up. None when another puller holds the ERP."""
    holder = uuid.uuid4().hex
    if not lease_acquire(pull_lease_name(system), holder=holder, ttl_seconds=LEASE_SECONDS):
        return None
    counts: Counter = Counter()
    started = timezone.now()
    outcome, error = "ok", ""
    adapter = adapter_for(system)
    deadline = time.monotonic() + max_seconds
    try:
        system.refresh_from_db(fields=["pull_cursor"])
        cursor = system.pull_cursor
        while time.monotonic() < deadline:
            page = adapter.pull(cursor, page_size)
            results = inbox_store_page(system=system, page=page)
            counts["pages"] += 1
            counts.update(r.status for r in results)
            if page.next_cursor is not None:
                cursor = page.next_cursor
            if not results:
                break
    except AuthError as exc:
        _pause(system, str(exc))
        outcome, error = "paused", str(exc)
    except TransportError as exc:
        outcome, error = "error", str(exc)
        logger.warning("ERP pull failed", extra={"erp": system.code, "error": error})
    finally:
        adapter.close()
        lease_release(pull_lease_name(system), holder=holder)
        ErpSystem.objects.filter(pk=system.pk).update(last_pull_at=timezone.now())
    if counts.get("pages", 0) > 1 or sum(v for k, v in counts.items() if k != "pages") or error:
        SyncRun.objects.create(
            system=system,
            direction=SyncRun.Direction.PULL,
            started_at=started,
            finished_at=timezone.now(),
            counts=dict(counts),
            outcome=outcome,
            error=error[:2000],
        )
    return counts


def systems_due_for_pull(now=None) -> list[ErpSystem]:
    """Enabled, unpaused ERPs whose poll interval has passed (http_json needs a base URL)."""
    now = now or timezone.now()
    due = []
    for system in ErpSystem.objects.filter(enabled=True).order_by("code"):
        if system.connection_state == ErpSystem.ConnectionState.PAUSED and (
            system.paused_until is None or system.paused_until > now
        ):
            continue
        if system.adapter == ErpSystem.Adapter.HTTP_JSON and not system.base_url:
            continue
        if system.last_pull_at and (now - system.last_pull_at).total_seconds() < system.poll_seconds:
            continue
        due.append(system)
    return due
