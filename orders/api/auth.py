"""Device and driver keys: `Authorization: Token <key>` (docs/rest-api.md, Authentication).

Keys are shown once and stored as SHA-256 hashes. A missing header → 401 `not_authenticated`; an
unknown or revoked key → 401 `authentication_failed`; a valid key of the wrong kind → 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from oms.lib.bulk import fetch_where
from orders.models import ApiClient
from orders.services.clients import hash_key

# `last_used_at` is refreshed at most this often, so that reads do not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class ApiClientUser:
    """The `request.user` of a token request: an authenticated principal that is not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False

    def __init__(self, client: ApiClient):
        self.client = client
        self.pk = None
        self.id = None

    def __str__(self) -> str:
        return f"api-client:{self.client.public_id}"

    def get_username(self) -> str:
        return str(self)


def _active_client(key_hash: str) -> ApiClient | None:
    """The unrevoked client with this key, its sales point and plant attached (a driver key's driver is
    read by the driver API, `fleet.api.permissions`).

    Every API request starts here: one statement with SQL built once (`fetch_where`) instead of a
    `select_related` query compiled by the ORM on each call, which cost three times as much."""
    found = fetch_where(
        ApiClient,
        related=("sales_point__plant",),
        key_hash=key_hash,
        revoked_at__isnull=True,
        limit=1,
    )
    return found[0] if found else None


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Invalid token header.")
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        client = _active_client(hash_key(key))
        if client is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        now = timezone.now()
        if client.last_used_at is None or now - client.last_used_at > LAST_USED_RESOLUTION:
            ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        return ApiClientUser(client), client

    def authenticate_header(self, request) -> str:
        return self.keyword


def _client(request) -> ApiClient | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiClient) else None


class IsDevice(permissions.BasePermission):
    """A kiosk / store POS key (bound to one active sales point)."""

    def has_permission(self, request, view) -> bool:
        if _client(request) is None:
            if not request.user or not request.user.is_authenticated:
                raise exceptions.NotAuthenticated()
            return False
        client = _client(request)
        return client.kind == ApiClient.Kind.DEVICE and client.sales_point.active
