"""What the order lifecycle needs from the fleet, which sits above `orders` (docs/architecture.md).

`orders` may not import `fleet`, yet cancelling an order must cancel its truck loads in the same
transaction, so that no driver loads a cancelled order. The lifecycle calls the `Fulfilment` port
below; `fleet` registers its implementation when the app is ready (`fleet.apps`). Exactly one
implementation exists; without one (a project without the fleet app) loads are not touched.
"""

from __future__ import annotations

from typing import Protocol

from oms.lib.actors import Actor
from orders.models import Order


class Fulfilment(Protocol):
    def loads_cancel(self, *, order: Order, actor: Actor, reason: str) -> list[str]:
        """Cancel every open load of the locked `order` (those still at the plant are cancelled,
        those on the road end as failed), tell their drivers and the ERP. Returns their tickets."""

    def loads_on_the_road(self, *, order: Order) -> int:
        """How many loads of `order` have left the plant and are not finished."""


class _NoFleet:
    def loads_cancel(self, *, order: Order, actor: Actor, reason: str) -> list[str]:
        return []

    def loads_on_the_road(self, *, order: Order) -> int:
        return 0


_fulfilment: Fulfilment = _NoFleet()


def register_fulfilment(implementation: Fulfilment) -> None:
    global _fulfilment
    _fulfilment = implementation


def fulfilment() -> Fulfilment:
    return _fulfilment
