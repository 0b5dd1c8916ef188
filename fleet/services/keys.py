"""Driver API keys: an `orders.ApiClient` of kind driver, linked to its driver by `DriverKey`."""

from __future__ import annotations

from django.db import transaction

from fleet.models import Driver, DriverKey
from orders.models import ApiClient
from orders.services.clients import api_client_issue


@transaction.atomic
def driver_key_issue(*, driver: Driver, name: str = "") -> tuple[ApiClient, str]:
    """Create a new key for `driver`. Returns (client, plaintext key); the key is never stored."""
    client, key = api_client_issue(kind=ApiClient.Kind.DRIVER, name=name)
    DriverKey.objects.create(client=client, driver=driver)
    return client, key
