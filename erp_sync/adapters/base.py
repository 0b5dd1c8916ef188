"""The adapter contract: `send` a batch of envelopes, `pull` a page of inbound messages.

`send` never raises for transport trouble: it classifies the outcome (docs/erp-integration.md, Outcomes) so that
the relay can decide between delivered, retry, park and pause.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from oms.models import ErpSystem

# results: per-message answers; transient: retry later; permanent: the batch was refused;
# auth: credentials refused (pause the connection, park nothing).
Kind = Literal["results", "transient", "permanent", "auth"]
RESULT_STATUSES = frozenset({"accepted", "duplicate", "rejected"})


@dataclass
class SendResult:
    kind: Kind
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""
    http_status: int | None = None


@dataclass
class PullPage:
    messages: list[Any]
    next_cursor: str | None
    # (raw text, error) of input that is not even JSON: recorded as failed under generated ids.
    unusable: list[tuple[str, str]] = field(default_factory=list)
    # Called after the page is committed to the inbox (e.g. move picked-up files to done/).
    on_stored: Callable[[], None] | None = None


class TransportError(Exception):
    """The ERP could not be reached or answered nonsense; try again later."""


class AuthError(TransportError):
    """401/403: the credentials were refused."""


class Adapter:
    def __init__(self, system: ErpSystem):
        self.system = system

    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        raise NotImplementedError

    def pull(self, cursor: str, limit: int) -> PullPage:
        return PullPage(messages=[], next_cursor=None)

    def close(self) -> None:
        return None


def parse_results(body: Any, ids: list[str]) -> dict[str, dict[str, Any]] | None:
    """`{"results": [{"id","status","error"?}]}` → {id: result} for the ids sent; None when malformed."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        return None
    wanted = set(ids)
    out: dict[str, dict[str, Any]] = {}
    for item in body["results"]:
        if not isinstance(item, dict) or item.get("status") not in RESULT_STATUSES:
            return None
        if isinstance(item.get("id"), str) and item["id"] in wanted:
            out[item["id"]] = {"status": item["status"], "error": str(item.get("error") or "")[:500]}
    return out
