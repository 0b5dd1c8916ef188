"""Factories of the API tests: drivers and API keys (catalog and orders come from tests/orders)."""

from __future__ import annotations

import factory

from fleet.models import Driver
from fleet.services.keys import driver_key_issue
from orders.services.clients import api_client_issue
from tests.orders.factories import PlantFactory


class DriverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Driver

    code = factory.Sequence(lambda n: f"DRV-{n:03d}")
    name = factory.Sequence(lambda n: f"Driver {n}")
    plant = factory.SubFactory(PlantFactory)


def device_key(sales_point) -> str:
    """A new plaintext key of a kiosk / store POS."""
    return api_client_issue(sales_point=sales_point, name="test device")[1]


def driver_key(driver) -> str:
    return driver_key_issue(driver=driver, name="test driver")[1]
