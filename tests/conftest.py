"""Shared fixtures. Factories live in tests/factories.py and are exposed as fixtures here."""

import os

import pytest

from tests import factories


def pytest_configure(config):
    # Under CI nothing that needs PostgreSQL may quietly run elsewhere.
    if os.environ.get("CI") == "true":
        from django.conf import settings

        if not settings.USING_POSTGRES:
            raise pytest.UsageError("CI=true requires the suite to run on PostgreSQL (set DATABASE_URL).")


# --- factories ------------------------------------------------------------------------------------


@pytest.fixture
def user_factory():
    return factories.UserFactory


@pytest.fixture
def erp_system_factory():
    return factories.ErpSystemFactory


@pytest.fixture
def plant_factory():
    return factories.PlantFactory


@pytest.fixture
def product_factory():
    return factories.ProductFactory


@pytest.fixture
def stock_level_factory():
    return factories.StockLevelFactory


@pytest.fixture
def customer_factory():
    return factories.CustomerFactory


@pytest.fixture
def site_factory():
    return factories.SiteFactory


@pytest.fixture
def sales_point_factory():
    return factories.SalesPointFactory


@pytest.fixture
def order_factory():
    return factories.OrderFactory


@pytest.fixture
def order_line_factory():
    return factories.OrderLineFactory


@pytest.fixture
def truck_factory():
    return factories.TruckFactory


@pytest.fixture
def driver_factory():
    return factories.DriverFactory


@pytest.fixture
def tour_factory():
    return factories.TourFactory


@pytest.fixture
def job_factory():
    return factories.JobFactory


@pytest.fixture
def job_line_factory():
    return factories.JobLineFactory
