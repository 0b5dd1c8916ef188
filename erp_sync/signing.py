"""`X-OMS-Signature: sha256=<lowercase hex HMAC-SHA256 of the raw body>` (key: the secret's UTF-8)."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-OMS-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith(PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body), header.strip())
