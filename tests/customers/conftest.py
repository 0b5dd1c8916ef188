"""Fixtures of the customers app (the factories come from tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def customer(customer_factory):
    return customer_factory(
        number="C-100001", name="Ivan Petrov", email="ivan@example.com", phone="+359888123456"
    )
