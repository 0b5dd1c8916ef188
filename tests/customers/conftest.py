"""Fixtures of the customers app: the shared factories of tests/orders/factories.py."""

from __future__ import annotations

import pytest

from tests.orders import factories


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
def customer_factory():
    return factories.CustomerFactory


@pytest.fixture
def site_factory():
    return factories.SiteFactory


@pytest.fixture
def order_factory():
    return factories.OrderFactory


@pytest.fixture
def customer(customer_factory):
    return customer_factory(
        number="C-100001", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
    )
