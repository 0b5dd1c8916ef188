"""ERP credentials at rest: Fernet-encrypted with the keys of `OMS_CREDENTIAL_KEYS`.

The first key encrypts, every key decrypts: to rotate, put a new key first, run `rotate_credentials`
(every stored value re-encrypted with it), then drop the old key (docs/operations.md). Without
`OMS_CREDENTIAL_KEYS` (development and test only; production requires it) a key derived from
`SECRET_KEY` encrypts. Keys derived from `SECRET_KEY` and its fallbacks always decrypt as a last
resort, so values written before `OMS_CREDENTIAL_KEYS` was set stay readable until rotated.

`ERP_<CODE>_TOKEN` / `ERP_<CODE>_SECRET` in the environment override the stored values, so a deploy
can rotate credentials without touching the database.
"""

from __future__ import annotations

import logging
import os
import re

from cryptography.fernet import MultiFernet
from django.conf import settings

from oms.lib import crypto

logger = logging.getLogger(__name__)
_HKDF_INFO = b"oms.erp_sync.credentials.v1"


def _keyring() -> MultiFernet:
    derived = (
        crypto.derived_key(s, _HKDF_INFO) for s in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )
    return crypto.keyring((*settings.OMS_CREDENTIAL_KEYS, *derived))


def encrypt(value: str) -> str:
    """Ciphertext of `value` under the first key ("" stays "")."""
    if not value:
        return ""
    return _keyring().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Plain text of a stored value; "" when empty or not readable with any key."""
    if not token:
        return ""
    try:
        return _keyring().decrypt(token.encode("ascii")).decode("utf-8")
    except (crypto.InvalidToken, ValueError):
        logger.error("stored ERP credential cannot be decrypted (OMS_CREDENTIAL_KEYS or SECRET_KEY changed?)")
        return ""


def reencrypt(token: str) -> str | None:
    """`token` encrypted again under the first key ("" stays ""); None when no key reads it."""
    if not token:
        return ""
    try:
        return _keyring().rotate(token.encode("ascii")).decode("ascii")
    except (crypto.InvalidToken, ValueError):
        return None


def env_name(code: str, kind: str) -> str:
    """`ERP_<CODE>_<KIND>` with the code upper-cased and non-alphanumerics as underscores."""
    return f"ERP_{re.sub(r'[^A-Z0-9]', '_', code.upper())}_{kind}"


def system_token(system) -> str:
    return os.environ.get(env_name(system.code, "TOKEN")) or decrypt(system.token_encrypted)


def system_secret(system) -> str:
    return os.environ.get(env_name(system.code, "SECRET")) or decrypt(system.secret_encrypted)


def env_credentials(code: str) -> list[str]:
    """The `ERP_<CODE>_TOKEN` / `_SECRET` variables set for `code` (they override stored values)."""
    return [name for name in (env_name(code, "TOKEN"), env_name(code, "SECRET")) if os.environ.get(name)]
