"""Shared fixtures. Factories live in tests/factories.py and are exposed as fixtures here."""

import os

import pytest


def pytest_configure(config):
    # Under CI nothing that needs PostgreSQL may quietly run elsewhere.
    if os.environ.get("CI") == "true":
        from django.conf import settings

        if not settings.USING_POSTGRES:
            raise pytest.UsageError("CI=true requires the suite to run on PostgreSQL (set DATABASE_URL).")
