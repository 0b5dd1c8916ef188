"""Who did something: written into every timeline event."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Actor:
    kind: str  # one of orders.models.ActorKind values: user, customer, driver, device, erp, system
    name: str = ""
    user: Any = None  # the auth user, when there is one
    channel: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(kind="system", name=name)

    @classmethod
    def for_user(cls, user, *, channel: str = "") -> Actor:
        return cls(kind="user", name=user.get_username(), user=user, channel=channel)

    @classmethod
    def for_erp(cls, system) -> Actor:
        """An ERP system (`oms.models.ErpSystem`) applying a message; None: an ERP not named."""
        return cls(kind="erp", name=system.code if system is not None else "erp", channel="erp")

    def on_channel(self, channel: str) -> Actor:
        """This actor, on `channel` unless it names its own (events record the channel of the change)."""
        return self if self.channel else replace(self, channel=channel)


SYSTEM = Actor.system()
