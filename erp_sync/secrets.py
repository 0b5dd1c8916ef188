"""ERP credentials at rest: Fernet-encrypted with a key derived from SECRET_KEY.

`ERP_<CODE>_TOKEN` / `ERP_<CODE>_SECRET` in the environment override the stored values, so a deploy
can rotate credentials without touching the database.
"""

from __future__ import annotations

import base64
import functools
import logging
import os
import re

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

logger = logging.getLogger(__name__)
_HKDF_INFO = b"oms.erp_sync.credentials.v1"


@functools.cache
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(value: str) -> str:
    """Ciphertext of `value` ("" stays "")."""
    if not value:
        return ""
    return _fernet(settings.SECRET_KEY).encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """Plain text of a stored value; "" when empty or not readable with the current SECRET_KEY."""
    if not token:
        return ""
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError):
        logger.error("stored ERP credential cannot be decrypted (SECRET_KEY changed?)")
        return ""


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
