"""The reference transport: the ERP exposes `GET/POST {base}/messages` and (added in 0.2)
`POST {base}/orders/state`; the OMS is the client.

Requests go only to addresses `erp_sync.addresses` allows, checked again as each is sent. An error
answer is recorded by its status code alone: the body of an answer that is not the ERP's (or not
what the contract says) is never stored, so a sync run shows nothing a server chose to say.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from erp_sync.adapters.base import (
    MAX_STATE_ORDERS,
    Adapter,
    AuthError,
    ErpOrderState,
    PullPage,
    SendResult,
    TransportError,
    Unsupported,
    parse_order_states,
    parse_results,
)
from erp_sync.addresses import PinnedTransport
from erp_sync.secrets import system_secret, system_token
from erp_sync.signing import HEADER, sign
from oms.lib.env import env_str

# One INFO line per request would drown the logs at 2,000 messages/s; outcomes are in SyncRun rows.
logging.getLogger("httpx").setLevel(logging.WARNING)

# docs/erp-integration.md: connect and read timeouts default to 5 s and 10 s.
CONNECT_TIMEOUT = float(env_str("OMS_ERP_CONNECT_TIMEOUT", "5"))
READ_TIMEOUT = float(env_str("OMS_ERP_READ_TIMEOUT", "10"))
TIMEOUT = httpx.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, write=READ_TIMEOUT, pool=CONNECT_TIMEOUT)


def classify_status(status: int) -> str:
    """HTTP status → results | auth | permanent | transient (docs/erp-integration.md, Outcomes)."""
    if 200 <= status < 300:
        return "results"
    if status in (401, 403):
        return "auth"
    if status in (408, 429) or status >= 500:
        return "transient"
    if 400 <= status < 500:
        return "permanent"
    return "transient"


class HttpJsonAdapter(Adapter):
    answers_order_states = True

    def __init__(self, system):
        super().__init__(system)
        self.base = system.base_url.rstrip("/")
        self.token = system_token(system)
        self.secret = system_secret(system)
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=PinnedTransport())
        return self._client

    def _headers(self, body: bytes) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            HEADER: sign(self.secret, body),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def send(self, envelopes: list[dict[str, Any]]) -> SendResult:
        body = json.dumps({"messages": envelopes}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        try:
            response = self.client.post(f"{self.base}/messages", content=body, headers=self._headers(body))
        except httpx.TimeoutException as exc:
            return SendResult(kind="transient", error=f"timeout: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult(kind="transient", error=f"connection: {type(exc).__name__}: {exc}"[:500])
        kind = classify_status(response.status_code)
        if kind != "results":
            return SendResult(
                kind=kind,  # type: ignore[arg-type]
                error=f"HTTP {response.status_code}",
                http_status=response.status_code,
            )
        try:
            parsed = parse_results(response.json(), [e["id"] for e in envelopes])
        except ValueError:
            parsed = None
        if parsed is None:
            return SendResult(
                kind="transient",
                error=f"malformed {response.status_code} body",
                http_status=response.status_code,
            )
        return SendResult(kind="results", results=parsed, http_status=response.status_code)

    def pull(self, cursor: str, limit: int) -> PullPage:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["after"] = cursor
        try:
            response = self.client.get(f"{self.base}/messages", params=params, headers=self._headers(b""))
        except httpx.HTTPError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}"[:500]) from exc
        kind = classify_status(response.status_code)
        if kind == "auth":
            raise AuthError(f"HTTP {response.status_code}")
        if kind != "results":
            raise TransportError(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise TransportError("malformed page: not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise TransportError('malformed page: no "messages" list')
        next_cursor = body.get("next")
        if next_cursor is not None and not isinstance(next_cursor, str):
            raise TransportError('malformed page: "next" is not a string')
        return PullPage(messages=body["messages"], next_cursor=next_cursor if next_cursor else cursor)

    def order_states(self, numbers: list[str]) -> dict[str, ErpOrderState | None]:
        if not 1 <= len(numbers) <= MAX_STATE_ORDERS:
            raise ValueError(f"ask for 1 to {MAX_STATE_ORDERS} orders at a time")
        body = json.dumps({"orders": numbers}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        try:
            response = self.client.post(
                f"{self.base}/orders/state", content=body, headers=self._headers(body)
            )
        except httpx.TimeoutException as exc:
            raise TransportError(f"timeout: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise TransportError(f"connection: {type(exc).__name__}: {exc}"[:500]) from exc
        if response.status_code in (404, 405, 501):
            # An ERP that implements the 0.1 contract only: it has no such resource.
            raise Unsupported(f"HTTP {response.status_code}: the ERP does not offer {{base}}/orders/state")
        kind = classify_status(response.status_code)
        if kind == "auth":
            raise AuthError(f"HTTP {response.status_code}")
        if kind != "results":
            raise TransportError(f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise TransportError("malformed order state answer: not JSON") from exc
        return parse_order_states(answer, numbers)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
