"""`X-OMS-Signature: sha256=<lowercase hex HMAC-SHA256>` (key: the secret's UTF-8).

The signed string is the raw body, or — on the push webhook, when the ERP sends `X-OMS-Timestamp`
(Unix seconds) — `<timestamp>.<body>`, so that a captured request stops being valid once the
timestamp leaves the tolerance (docs/erp-integration.md, the signature).
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "X-OMS-Signature"
TIMESTAMP_HEADER = "X-OMS-Timestamp"
PREFIX = "sha256="
_WELL_FORMED = re.compile(r"sha256=[0-9a-f]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signed_bytes(body: bytes, timestamp: str | None = None) -> bytes:
    return body if timestamp is None else timestamp.encode("ascii") + b"." + body


def sign(secret: str, body: bytes, timestamp: str | None = None) -> str:
    return (
        PREFIX + hmac.new(secret.encode("utf-8"), signed_bytes(body, timestamp), hashlib.sha256).hexdigest()
    )


def well_formed(header: str | None) -> bool:
    """A cheap look at the header before the body is read: `sha256=` and 64 lowercase hex digits."""
    return bool(header) and _WELL_FORMED.fullmatch(header.strip()) is not None


def parse_timestamp(header: str | None) -> int | None:
    """`X-OMS-Timestamp` as Unix seconds, or None when absent or not a plain number."""
    if header is None or _TIMESTAMP.fullmatch(header.strip()) is None:
        return None
    return int(header.strip())


def verify(secret: str, body: bytes, header: str | None, timestamp: str | None = None) -> bool:
    if not secret or not well_formed(header):
        return False
    return hmac.compare_digest(sign(secret, body, timestamp), header.strip())
