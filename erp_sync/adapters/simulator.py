"""A fake ERP inside the OMS, for demos: accepts everything, acknowledges orders a few seconds later,
and on every pull moves some stock levels (and, when the fleet services exist, plans deliveries).

Its inbound messages go through the inbox like any ERP's: scheduled ones (the delayed
acknowledgements) are inbox rows whose `received_at` lies in the future; the apply sweep picks them
up when it has passed.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from erp_sync.adapters.base import Adapter, PullPage, SendResult
from oms.lib.env import env_int

ACK_SECONDS = env_int("OMS_SIMULATOR_ACK_SECONDS", 3)
STOCK_CHANGES_PER_PULL = 3


def _version() -> int:
    """Versions increase per entity: a millisecond clock is enough for one simulator."""
    return time.time_ns() // 1_000_000


def _envelope(type_: str, entity: tuple[str, str], data: dict[str, Any], message_id: str) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": type_,
        "occurred_at": timezone.now().isoformat().replace("+00:00", "Z"),
        "entity": {"type": entity[0], "key": entity[1]},
        "version": _version(),
        "data": data,
    }


class SimulatorAdapter(Adapter):
    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        from erp_sync.envelope import parse_message
        from erp_sync.inbound import _store

        acks = []
        for env in envelopes:
            if env["type"] == "order.created":
                number = env["entity"]["key"]
                acks.append(
                    _envelope(
                        "order.ack",
                        ("order", number),
                        {"order": number, "erp_order": f"SIM-{number.removeprefix('ORD-')}"},
                        f"SIM-ack-{env['id']}",
                    )
                )
        if acks:
            _store(
                system=self.system,
                parsed=[parse_message(a) for a in acks],
                source="simulator",
                received_at=timezone.now() + timedelta(seconds=ACK_SECONDS),
            )
        return SendResult(
            kind="results", results={e["id"]: {"status": "accepted", "error": ""} for e in envelopes}
        )

    def pull(self, cursor: str, limit: int) -> PullPage:
        from orders.models import StockLevel

        if cursor == "done":
            # One burst per pull run: the next page is empty so the puller stops.
            return PullPage(messages=[], next_cursor="")
        messages = []
        levels = list(
            StockLevel.objects.select_related("plant", "product").filter(plant__erp_system=self.system)[:200]
        )
        for level in random.sample(levels, min(STOCK_CHANGES_PER_PULL, len(levels))):
            delta = Decimal(random.randint(-5, 20))
            on_hand = max(level.on_hand + delta, level.allocated, Decimal(0))
            key = f"{level.plant.code}:{level.product.sku}"
            messages.append(
                _envelope(
                    "stock.level",
                    ("stock", key),
                    {"plant": level.plant.code, "sku": level.product.sku, "on_hand": f"{on_hand:.3f}"},
                    f"SIM-stock-{key}-{_version()}",
                )
            )
        return PullPage(messages=messages, next_cursor="done")
