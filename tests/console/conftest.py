"""Fixtures of the console tests: staff users per role (the `world` comes from tests/conftest.py)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from oms import roles
from tests import factories

PASSWORD = "console-pass-123"  # noqa: S105


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_user(role: str | None, username: str | None = None, *, staff: bool = True):
    user = factories.UserFactory(username=username or f"{role or 'nobody'}-user", is_staff=staff)
    user.set_password(PASSWORD)
    user.save()
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def rep(db):
    return make_user(roles.REP, "rita")


@pytest.fixture
def dispatcher(db):
    return make_user(roles.DISPATCHER, "dan")


@pytest.fixture
def admin_user(db):
    return make_user(roles.ADMIN, "ada")


@pytest.fixture
def customer_user(db):
    return make_user(roles.CUSTOMER, "carl", staff=False)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rep_client(rep):
    return client_for(rep)


@pytest.fixture
def dispatcher_client(dispatcher):
    return client_for(dispatcher)
