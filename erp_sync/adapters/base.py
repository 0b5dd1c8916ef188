"""The adapter contract: `send` a batch of envelopes, `pull` a page of inbound messages, and (added in
0.2) ask the ERP for its view of some orders with `order_states`.

`send` never raises for transport trouble: it classifies the outcome (docs/erp-integration.md, Outcomes) so that
the relay can decide between delivered, retry, park and pause. `order_states` raises: `Unsupported` when
the transport or the ERP does not offer it, `TransportError` (or `AuthError`) for anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
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


# docs/erp-integration.md, Order state: at most this many order numbers per request.
MAX_STATE_ORDERS = 200
QUANTITY = re.compile(r"^\d{1,11}(\.\d{1,3})?$")
LINE_FIELDS = ("quantity", "delivered", "returned", "cancelled")


@dataclass(frozen=True)
class ErpLine:
    position: int
    quantity: Decimal
    delivered: Decimal
    returned: Decimal
    cancelled: Decimal


@dataclass(frozen=True)
class ErpOrderState:
    """What the ERP believes about one OMS order (`POST {base}/orders/state`)."""

    order: str
    erp_order: str | None
    status: str
    lines: dict[int, ErpLine]


class TransportError(Exception):
    """The ERP could not be reached or answered nonsense; try again later."""


class AuthError(TransportError):
    """401/403: the credentials were refused."""


class Unsupported(Exception):  # noqa: N818 - reads as `except Unsupported`
    """The transport (or this ERP) does not offer the request."""


class Adapter:
    # False: `order_states` raises `Unsupported` whatever it is asked (the transport cannot ask).
    answers_order_states = False

    def __init__(self, system: ErpSystem):
        self.system = system

    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        raise NotImplementedError

    def pull(self, cursor: str, limit: int) -> PullPage:
        return PullPage(messages=[], next_cursor=None)

    def order_states(self, numbers: list[str]) -> dict[str, ErpOrderState | None]:
        """The ERP's view of each OMS order number (None: the ERP does not know it); at most
        `MAX_STATE_ORDERS` numbers. Raises `Unsupported`, `AuthError` or `TransportError`."""
        raise self.unsupported()

    def unsupported(self) -> Unsupported:
        return Unsupported(f"the {self.system.adapter} transport cannot ask the ERP for order states")

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


def _fail(problem: str) -> TransportError:
    return TransportError(f"malformed order state answer: {problem}"[:500])


def _state_line(item: Any, where: str) -> ErpLine:
    if not isinstance(item, dict):
        raise _fail(f"{where} is not an object")
    position = item.get("position")
    if not isinstance(position, int) or isinstance(position, bool) or not 1 <= position <= 9999:
        raise _fail(f"{where}.position is not an integer from 1 to 9999")
    values = {}
    for name in LINE_FIELDS:
        value = item.get(name)
        if not isinstance(value, str) or not QUANTITY.match(value):
            raise _fail(f"{where}.{name} is not a decimal string with at most 3 decimals")
        values[name] = Decimal(value)
    return ErpLine(position=position, **values)


def parse_order_states(body: Any, numbers: list[str]) -> dict[str, ErpOrderState | None]:
    """`{"orders": [...], "unknown": [...]}` → {number: state or None}; every number asked must be
    answered exactly once and nothing else. Raises `TransportError` naming the first problem."""
    from orders.models import OrderStatus

    if not isinstance(body, dict):
        raise _fail("not a JSON object")
    orders, unknown = body.get("orders"), body.get("unknown", [])
    if not isinstance(orders, list) or not isinstance(unknown, list):
        raise _fail('"orders" and "unknown" must be lists')
    asked = set(numbers)
    out: dict[str, ErpOrderState | None] = {}

    def claim(number: Any, where: str) -> str:
        if not isinstance(number, str) or number not in asked:
            raise _fail(f"{where} names an order that was not asked for")
        if number in out:
            raise _fail(f"{where}: order {number} is answered twice")
        return number

    for index, number in enumerate(unknown):
        out[claim(number, f"unknown[{index}]")] = None
    for index, item in enumerate(orders):
        where = f"orders[{index}]"
        if not isinstance(item, dict):
            raise _fail(f"{where} is not an object")
        number = claim(item.get("order"), f"{where}.order")
        erp_order = item.get("erp_order")
        if erp_order is not None and not isinstance(erp_order, str):
            raise _fail(f"{where}.erp_order is neither a string nor null")
        status = item.get("status")
        if status not in OrderStatus.values:
            raise _fail(f"{where}.status is not an OMS order status")
        raw_lines = item.get("lines")
        if not isinstance(raw_lines, list):
            raise _fail(f"{where}.lines is not a list")
        lines: dict[int, ErpLine] = {}
        for n, raw in enumerate(raw_lines):
            line = _state_line(raw, f"{where}.lines[{n}]")
            if line.position in lines:
                raise _fail(f"{where}.lines: position {line.position} appears twice")
            lines[line.position] = line
        out[number] = ErpOrderState(order=number, erp_order=erp_order or None, status=status, lines=lines)
    missing = [n for n in numbers if n not in out]
    if missing:
        raise _fail(f"{len(missing)} order(s) not answered, e.g. {missing[0]}")
    return out
