"""Staff sessions end after idle time and at an absolute limit; customers keep theirs."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from console.middleware import LAST_SEEN_AT, SIGNED_IN_AT
from tests.console.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _signed_in_client(username: str, password: str, login_url: str) -> Client:
    client = Client()
    response = client.post(login_url, {"username": username, "password": password})
    assert response.status_code == 302
    return client


def _age(client: Client, **seconds_ago: int) -> None:
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_sign_in_starts_the_clocks_and_activity_keeps_the_session(rep):
    client = _signed_in_client("rita", PASSWORD, "/admin/login/")
    now = int(time.time())
    assert now - 2 <= client.session[SIGNED_IN_AT] <= now
    assert client.session[LAST_SEEN_AT] == client.session[SIGNED_IN_AT]
    _age(client, staff_last_seen_at=29 * 60)
    assert client.get("/admin/").status_code == 200
    assert now - 2 <= client.session[LAST_SEEN_AT] <= int(time.time())
    assert client.session.get_expiry_age() == 30 * 60


def test_an_idle_staff_session_ends(rep):
    client = _signed_in_client("rita", PASSWORD, "/admin/login/")
    _age(client, staff_last_seen_at=30 * 60 + 1)
    response = client.get("/admin/console/")
    assert response["Location"] == "/admin/login/?next=%2Fadmin%2Fconsole%2F"
    assert "_auth_user_id" not in client.session
    page = client.get(response["Location"]).content.decode()
    assert "Your staff session has ended. Please sign in again." in page


def test_a_staff_session_ends_twelve_hours_after_sign_in_however_active(rep):
    client = _signed_in_client("rita", PASSWORD, "/admin/login/")
    _age(client, staff_signed_in_at=12 * 3600 + 1, staff_last_seen_at=10)
    assert client.get("/admin/")["Location"] == "/admin/login/?next=%2Fadmin%2F"
    assert "_auth_user_id" not in client.session


def test_the_limits_are_settings(rep, settings):
    settings.OMS_STAFF_SESSION_IDLE_SECONDS = 120
    client = _signed_in_client("rita", PASSWORD, "/admin/login/")
    _age(client, staff_last_seen_at=121)
    assert client.get("/admin/")["Location"] == "/admin/login/?next=%2Fadmin%2F"


def test_customers_keep_their_two_week_session(world):
    from tests.portal.conftest import PASSWORD as CUSTOMER_PASSWORD
    from tests.portal.conftest import make_customer

    make_customer("Alpha Ltd", "alpha@example.com")
    client = _signed_in_client("alpha@example.com", CUSTOMER_PASSWORD, "/portal/login/")
    _age(client, staff_signed_in_at=13 * 3600, staff_last_seen_at=2 * 3600)
    assert client.get("/portal/").status_code == 200
    assert client.session.get_expiry_age() == 14 * 24 * 3600
