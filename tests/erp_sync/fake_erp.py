"""A real HTTP fake ERP on loopback implementing the `http_json` transport of docs/erp-integration.md.

It checks the bearer token and the signature, deduplicates by message id, counts every raw attempt,
keeps the arrival order per aggregate, serves an inbound feed with opaque cursors, and can be
switched to answer 503, hang, answer 401, or reject chosen messages.

It also keeps books like an ERP would and answers `POST {base}/orders/state` (added in 0.2) from them:
an order is booked from its `order.created` (status `placed`, or `confirmed` with `auto_ack`), and
`order.cancel_requested`, `order.cancelled`, `order.correction`, `item.positions` (absolute line
quantities) and `delivery.confirmation` (per ticket; a line shows the larger of the last
`item.positions` and the sum of its tickets, since the two travel in different aggregates) change it.
A test makes the ERP believe something else with `set_order` / `forget_order`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TOKEN = "erp-token"
SECRET = "erp-secret"
# Loopback: ERP connections may use it only when it is in OMS_ERP_ALLOWED_PRIVATE_HOSTS.
HOST = "127.0.0.1"


class FakeErp:
    def __init__(self, *, token: str = TOKEN, secret: str = SECRET, auto_ack: bool = False, host: str = HOST):
        self.token = token
        self.secret = secret
        self.auto_ack = auto_ack
        self.lock = threading.Lock()
        self.mode = "ok"  # ok | 503 | hang | 401 | malformed
        self.hang_seconds = 30.0
        # Seconds to sleep after applying a batch and before answering (a kill then loses the answer).
        self.delay = 0.0
        self.reject_ids: set[str] = set()
        self.reject_types: set[str] = set()
        self.accepted: dict[str, dict] = {}
        self.attempts: Counter = Counter()
        self.requests = 0
        self.post_batches: list[int] = []
        # Messages applied per client address (the multi-host suite tells its worker hosts apart).
        self.applied_from: Counter = Counter()
        self.arrivals: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.feed: list[dict] = []
        self.get_cursors: list[str | None] = []
        self._ack_version = 0
        # The ERP's books: order number → {"erp_order", "status", "lines": {position: {field: Decimal}},
        # "tickets": {ticket: {position: (delivered, returned)}}}.
        self.books: dict[str, dict] = {}
        self.state_requests: list[int] = []
        self.offers_order_state = True  # False: a 0.1 ERP without {base}/orders/state (answers 404)
        # Loopback by default; the multi-host suite binds it to its bridge's address instead.
        self._server = ThreadingHTTPServer((host, 0), self._handler())
        self._server.daemon_threads = True
        # A client killed mid-request leaves a broken pipe: expected in the fault tests, not an error.
        self._server.handle_error = lambda request, client_address: None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeErp:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.mode = "ok"
        self._server.shutdown()
        self._server.server_close()

    def connect(self, *, code: str, **fields):
        """An `ErpSystem` speaking `http_json` to this ERP, its token and secret stored encrypted."""
        from erp_sync import secrets
        from oms.models import ErpSystem

        return ErpSystem.objects.create(
            code=code,
            adapter=ErpSystem.Adapter.HTTP_JSON,
            base_url=self.url,
            token_encrypted=secrets.encrypt(self.token),
            secret_encrypted=secrets.encrypt(self.secret),
            **fields,
        )

    # --- what the tests read -----------------------------------------------------------------
    def delivered(self, type_: str | None = None) -> list[dict]:
        with self.lock:
            return [m for m in self.accepted.values() if type_ is None or m["type"] == type_]

    def reordered_aggregates(self) -> list[tuple[str, str]]:
        with self.lock:
            return [key for key, seqs in self.arrivals.items() if seqs != sorted(seqs)]

    def add_feed(self, messages: list[dict]) -> None:
        with self.lock:
            self.feed.extend(messages)

    def order_state(self, number: str) -> dict | None:
        """What this ERP would answer about `number` (None: unknown)."""
        with self.lock:
            return self._state(number)

    def set_order(
        self, number: str, *, status: str | None = None, lines: dict[int, dict[str, str]] | None = None
    ) -> None:
        """Make the ERP believe something else about a booked order: its status and/or line values
        (`{1: {"delivered": "2.000"}}`). Overridden lines forget their tickets, so the value sticks."""
        with self.lock:
            book = self.books[number]
            if status is not None:
                book["status"] = status
            for position, values in (lines or {}).items():
                line = book["lines"][position]
                for name, value in values.items():
                    line[name] = Decimal(value)
                for per_ticket in book["tickets"].values():
                    per_ticket.pop(position, None)

    def forget_order(self, number: str) -> None:
        with self.lock:
            del self.books[number]

    # --- the server --------------------------------------------------------------------------
    def _sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def _authorized(self, headers, body: bytes) -> bool:
        return headers.get("Authorization") == f"Bearer {self.token}" and hmac.compare_digest(
            headers.get("X-OMS-Signature", ""), self._sign(body)
        )

    def _accept(self, envelope: dict) -> dict:
        mid = envelope.get("id")
        self.attempts[mid] += 1
        if mid in self.accepted:
            return {"id": mid, "status": "duplicate"}
        if mid in self.reject_ids or envelope.get("type") in self.reject_types:
            return {"id": mid, "status": "rejected", "error": "refused by the fake ERP"}
        self.accepted[mid] = envelope
        self._book(envelope)
        entity = envelope.get("entity") or {}
        self.arrivals[(entity.get("type"), entity.get("key"))].append(envelope.get("sequence"))
        if self.auto_ack and envelope.get("type") == "order.created":
            self._ack_version += 1
            number = entity["key"]
            self.feed.append(
                {
                    "id": f"ACK-{mid}",
                    "type": "order.ack",
                    "occurred_at": "2026-11-22T08:00:00Z",
                    "entity": {"type": "order", "key": number},
                    "version": self._ack_version,
                    "data": {"order": number, "erp_order": f"SO-{number}"},
                }
            )
        return {"id": mid, "status": "accepted"}

    # --- the books ------------------------------------------------------------------------------
    def _book(self, envelope: dict) -> None:
        """Apply an accepted message to the books (payloads this fake cannot read are ignored: tests
        also send bare ones)."""
        data = envelope.get("data")
        if not isinstance(data, dict):
            return
        try:
            self._book_data(envelope.get("type"), data)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            return

    def _book_data(self, type_: str | None, data: dict) -> None:
        zero = Decimal("0")
        if type_ == "order.created":
            number = data["number"]
            self.books[number] = {
                "erp_order": f"SO-{number}" if self.auto_ack else data.get("erp_order"),
                "status": "confirmed" if self.auto_ack else data["status"],
                "lines": {
                    line["position"]: {
                        "quantity": Decimal(line["quantity"]),
                        "delivered": Decimal(line["delivered"]),
                        "returned": Decimal(line["returned"]),
                        "cancelled": zero,
                    }
                    for line in data["lines"]
                },
                "tickets": {},
            }
            return
        number = data.get("order")
        book = self.books.get(number) if isinstance(number, str) else None
        if book is None:
            return
        if type_ == "order.cancel_requested":
            book["status"] = "cancellation_requested"
        elif type_ == "order.cancelled":
            for item in data["returned"]:
                book["lines"][item["position"]]["returned"] += Decimal(item["quantity"])
            book["status"] = "cancelled"
            for position, line in book["lines"].items():
                delivered = self._line(book, position)["delivered"]
                line["cancelled"] = max(line["quantity"] - delivered, zero)
        elif type_ == "order.correction":
            for change in data["lines"]:
                if change["field"] == "quantity":
                    book["lines"][change["position"]]["quantity"] = Decimal(change["new"])
        elif type_ == "item.positions":
            for line in data["lines"]:
                book["lines"][line["position"]] = {
                    "quantity": Decimal(line["ordered"]),
                    "delivered": Decimal(line["delivered"]),
                    "returned": Decimal(line["returned"]),
                    "cancelled": Decimal(line["cancelled"]),
                }
        elif type_ == "delivery.confirmation":
            book["tickets"][data["ticket"]] = {
                line["position"]: (Decimal(line["delivered"]), Decimal(line["returned"]))
                for line in data["lines"]
            }

    @staticmethod
    def _line(book: dict, position: int) -> dict:
        line = dict(book["lines"][position])
        tickets = [t[position] for t in book["tickets"].values() if position in t]
        line["delivered"] = max(line["delivered"], sum((d for d, _r in tickets), Decimal("0")))
        line["returned"] = max(line["returned"], sum((r for _d, r in tickets), Decimal("0")))
        return line

    def _state(self, number: str) -> dict | None:
        book = self.books.get(number)
        if book is None:
            return None
        lines = []
        for position in sorted(book["lines"]):
            line = self._line(book, position)
            lines.append(
                {
                    "position": position,
                    **{k: f"{line[k]:.3f}" for k in ("quantity", "delivered", "returned", "cancelled")},
                }
            )
        return {"order": number, "erp_order": book["erp_order"], "status": book["status"], "lines": lines}

    def _handler(self):
        erp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def _reply(self, status: int, body: dict | str) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _common(self, body: bytes) -> bool:
                with erp.lock:
                    erp.requests += 1
                    mode = erp.mode
                if mode == "hang":
                    deadline = time.monotonic() + erp.hang_seconds
                    while erp.mode == "hang" and time.monotonic() < deadline:
                        time.sleep(0.05)
                    self.close_connection = True
                    return False
                if mode == "503":
                    self._reply(503, {"error": "down"})
                    return False
                if mode == "401" or not erp._authorized(self.headers, body):
                    self._reply(401, {"error": "unauthorized"})
                    return False
                return True

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if not self._common(body):
                    return
                if erp.mode == "malformed":
                    self._reply(200, "<html>not json</html>")
                    return
                if urlparse(self.path).path.endswith("/orders/state"):
                    self._order_state(body)
                    return
                messages = json.loads(body)["messages"]
                with erp.lock:
                    erp.post_batches.append(len(messages))
                    results = [erp._accept(m) for m in messages]
                    erp.applied_from[self.client_address[0]] += sum(
                        1 for r in results if r["status"] == "accepted"
                    )
                if erp.delay:
                    time.sleep(erp.delay)
                self._reply(200, {"results": results})

            def _order_state(self, body: bytes) -> None:
                if not erp.offers_order_state:
                    self._reply(404, {"error": "no such resource"})
                    return
                numbers = json.loads(body)["orders"]
                if not isinstance(numbers, list) or not 1 <= len(numbers) <= 200:
                    self._reply(400, {"error": "1 to 200 order numbers"})
                    return
                with erp.lock:
                    erp.state_requests.append(len(numbers))
                    states = {number: erp._state(number) for number in numbers}
                self._reply(
                    200,
                    {
                        "orders": [state for state in states.values() if state is not None],
                        "unknown": [number for number, state in states.items() if state is None],
                    },
                )

            def do_GET(self):
                url = urlparse(self.path)
                if not self._common(b""):
                    return
                query = parse_qs(url.query)
                after = query.get("after", [None])[0]
                limit = int(query.get("limit", ["100"])[0])
                with erp.lock:
                    erp.get_cursors.append(after)
                    start = int(after) if after else 0
                    page = erp.feed[start : start + limit]
                    cursor = str(start + len(page)) if page else (after or "0")
                self._reply(200, {"messages": page, "next": cursor})

        return Handler
