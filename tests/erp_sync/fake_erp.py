"""A real HTTP fake ERP on loopback implementing the `http_json` transport of docs/erp-integration.md.

It checks the bearer token and the signature, deduplicates by message id, counts every raw attempt,
keeps the arrival order per aggregate, serves an inbound feed with opaque cursors, and can be
switched to answer 503, hang, answer 401, or reject chosen messages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeErp:
    def __init__(self, *, token: str = "erp-token", secret: str = "erp-secret", auto_ack: bool = False):
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
        self.arrivals: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.feed: list[dict] = []
        self.get_cursors: list[str | None] = []
        self._ack_version = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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

    def duplicates_applied(self) -> int:
        """Messages this ERP applied more than once (always 0: it dedupes; kept for symmetry)."""
        return 0

    def reordered_aggregates(self) -> list[tuple[str, str]]:
        with self.lock:
            return [key for key, seqs in self.arrivals.items() if seqs != sorted(seqs)]

    def add_feed(self, messages: list[dict]) -> None:
        with self.lock:
            self.feed.extend(messages)

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
                messages = json.loads(body)["messages"]
                with erp.lock:
                    erp.post_batches.append(len(messages))
                    results = [erp._accept(m) for m in messages]
                if erp.delay:
                    time.sleep(erp.delay)
                self._reply(200, {"results": results})

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
