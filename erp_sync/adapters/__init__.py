"""Transports to ERPs. `adapter_for(system)` picks the one the system is configured with."""

from __future__ import annotations

from erp_sync.adapters.base import (
    Adapter,
    AuthError,
    ErpLine,
    ErpOrderState,
    PullPage,
    SendResult,
    TransportError,
    Unsupported,
)
from oms.models import ErpSystem


def adapter_for(system: ErpSystem) -> Adapter:
    from erp_sync.adapters.file_drop import FileDropAdapter
    from erp_sync.adapters.http_json import HttpJsonAdapter
    from erp_sync.adapters.simulator import SimulatorAdapter

    classes: dict[str, type[Adapter]] = {
        ErpSystem.Adapter.HTTP_JSON: HttpJsonAdapter,
        ErpSystem.Adapter.FILE_DROP: FileDropAdapter,
        ErpSystem.Adapter.SIMULATOR: SimulatorAdapter,
    }
    return classes[system.adapter](system)


__all__ = [
    "Adapter",
    "AuthError",
    "ErpLine",
    "ErpOrderState",
    "PullPage",
    "SendResult",
    "TransportError",
    "Unsupported",
    "adapter_for",
]
