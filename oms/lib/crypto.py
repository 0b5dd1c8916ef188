"""Authenticated encryption (Fernet) with configured keys or keys derived from the secret key.

`keyring(keys)` is a `MultiFernet`: the first key encrypts, every key decrypts, so a new key can be put
in front while values written under the old ones stay readable until they are re-encrypted. Keys
derived from `SECRET_KEY` (and `SECRET_KEY_FALLBACKS`, so they survive its rotation) serve short-lived
tokens such as sign-up links; long-lived data uses keys of its own (`erp_sync.secrets`).
"""

from __future__ import annotations

import base64
import functools
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import signing

__all__ = ["InvalidToken", "derived_key", "keyring", "seal", "secret_key_keyring", "unseal", "valid_key"]


@functools.cache
def derived_key(secret: str, purpose: bytes) -> str:
    """A Fernet key derived from `secret` for one `purpose` (HKDF-SHA256: one secret, unrelated keys)."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret.encode("utf-8"))
    return base64.urlsafe_b64encode(key).decode("ascii")


def valid_key(key: str) -> bool:
    """Whether `key` is a Fernet key: 32 bytes in url-safe base64 (`Fernet.generate_key()`)."""
    try:
        Fernet(key)
    except ValueError:
        return False
    return True


@functools.cache
def keyring(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def secret_key_keyring(purpose: bytes) -> MultiFernet:
    """Keys derived from `SECRET_KEY`, then from each of `SECRET_KEY_FALLBACKS`."""
    secrets = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    return keyring(tuple(derived_key(secret, purpose) for secret in secrets))


def seal(data, *, purpose: bytes) -> str:
    """`data` (JSON) encrypted and authenticated for `purpose`: unlike `signing.dumps`, nobody can read it."""
    payload = json.dumps(data, separators=(",", ":")).encode("utf-8")
    return secret_key_keyring(purpose).encrypt(payload).decode("ascii")


def unseal(token: str, *, purpose: bytes, max_age: int):
    """The data of a `seal` token at most `max_age` seconds old; `signing.BadSignature` otherwise."""
    try:
        payload = secret_key_keyring(purpose).decrypt(token.encode("ascii"), ttl=max_age)
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise signing.BadSignature("invalid or expired token") from exc
    return json.loads(payload)
