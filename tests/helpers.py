"""Helpers shared by the test packages: API keys and clients, management commands. Factories are in
tests/factories.py, fixtures in tests/conftest.py."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from rest_framework.test import APIClient

from fleet.services.keys import driver_key_issue
from orders.services.clients import api_client_issue

# --- API keys and clients ---------------------------------------------------------------------------


def device_key(sales_point, *, name: str = "test device") -> str:
    """A new plaintext key of a kiosk / store POS."""
    return api_client_issue(sales_point=sales_point, name=name)[1]


def driver_key(driver, *, name: str = "test driver") -> str:
    """A new plaintext key of a driver's app."""
    return driver_key_issue(driver=driver, name=name)[1]


def token_client(key: str | None) -> APIClient:
    """A DRF test client sending `Authorization: Token <key>` (none without a key)."""
    client = APIClient()
    if key:
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def driver_client(driver) -> APIClient:
    """A client of the driver API, signed in with a new key of `driver`."""
    return token_client(driver_key(driver, name=""))


# --- management commands ----------------------------------------------------------------------------


def run_command(*args) -> str:
    """What `manage.py <args>` prints."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
