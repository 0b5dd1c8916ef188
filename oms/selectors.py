"""Reads of the platform tables."""

from __future__ import annotations

from typing import Any

from oms.models import ErpSystem


def erp_breaker_states() -> dict[str, dict[str, Any]]:
    """{code: {"state": "ok"|"paused", "reason": str}} of every enabled ERP (used by /readyz)."""
    return {
        code: {"state": state, "reason": reason}
        for code, state, reason in ErpSystem.objects.filter(enabled=True)
        .order_by("code")
        .values_list("code", "connection_state", "paused_reason")
    }
