"""API keys of devices (kiosk / store POS) and drivers: issue and revoke.

Keys are shown once and stored as SHA-256 hashes; issuing a key never revokes older ones.
"""

from __future__ import annotations

import hashlib
import secrets

from django.utils import timezone

from orders.models import ApiClient, SalesPoint

KEY_PREFIX_LEN = 8


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_client_issue(
    *, sales_point: SalesPoint | None = None, kind: str = ApiClient.Kind.DEVICE, name: str = ""
) -> tuple[ApiClient, str]:
    """Create a new key of `kind` (a device key needs its sales point). Returns (client, plaintext key).

    Driver keys are issued through `fleet.services.keys.driver_key_issue`, which links the driver."""
    if (kind == ApiClient.Kind.DEVICE) != (sales_point is not None):
        raise ValueError("a device key needs a sales point, a driver key none")
    key = secrets.token_urlsafe(32)
    client = ApiClient.objects.create(
        kind=kind,
        sales_point=sales_point,
        name=name,
        key_prefix=key[:KEY_PREFIX_LEN],
        key_hash=hash_key(key),
    )
    return client, key


def api_client_revoke(*, client: ApiClient) -> bool:
    """Revoke a key for good; False when it was already revoked."""
    return bool(
        ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )
