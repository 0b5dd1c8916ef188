"""Sign-in protection of the admin site (and the console in it): per account, per IP, in the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.hashers import MD5PasswordHasher

from oms import roles
from oms.lib.signin import locked_message
from tests.console.conftest import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/"


class CountingHasher(MD5PasswordHasher):
    """MD5 (fast) that counts the passwords it hashes: checking one hashes it too."""

    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


def _login(client, username, password, ip="10.1.0.1", **extra):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=ip, **extra
    )


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_sixth_admin_sign_in_after_five_wrong_passwords_is_refused_even_with_the_right_one(client, rep):
    for _ in range(4):
        response = _login(client, "rita", "wrong")
        assert response.status_code == 200
        assert "Please enter the correct username and password" in response.content.decode()
    response = _login(client, "rita", "wrong")
    assert response.status_code == 429
    assert locked_message() in response.content.decode()
    response = _login(client, "rita", PASSWORD)
    assert response.status_code == 429
    assert locked_message() in response.content.decode()
    assert not _signed_in(client)


def test_a_locked_account_stays_locked_from_another_address(client, rep):
    for i in range(5):
        _login(client, "rita", "wrong", ip=f"10.1.0.{i + 1}")
    response = _login(client, "RITA", PASSWORD, ip="192.0.2.99")
    assert response.status_code == 429
    assert not _signed_in(client)


def test_spraying_twenty_usernames_from_one_address_is_refused_after_the_limit(client, rep):
    codes = [_login(client, f"staff{i}", "Winter2026!", ip="10.1.0.9").status_code for i in range(20)]
    assert codes == [200] * 4 + [429] * 16
    assert _login(client, "rita", PASSWORD, ip="10.1.0.9").status_code == 429
    assert not _signed_in(client)
    assert _login(client, "rita", PASSWORD, ip="10.1.0.10")["Location"] == "/admin/"
    assert _signed_in(client)


def test_a_refused_sign_in_computes_no_password_hash(client, settings):
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    make_user(roles.REP, "rita")
    for _ in range(5):
        _login(client, "rita", "wrong")
    CountingHasher.calls = 0
    for _ in range(10):
        assert _login(client, "rita", PASSWORD).status_code == 429
    assert CountingHasher.calls == 0
    # Unlocked, the same sign-in checks the password once.
    AccessAttempt.objects.all().delete()
    assert _login(client, "rita", PASSWORD).status_code == 302
    assert CountingHasher.calls == 1


def test_the_lockout_message_is_translated(client, rep):
    for _ in range(5):
        _login(client, "rita", "wrong")
    response = _login(client, "rita", PASSWORD, HTTP_ACCEPT_LANGUAGE="bg")
    assert response.status_code == 429
    assert (
        "Твърде много неуспешни опити за вход. Входът е заключен за 15 минути." in response.content.decode()
    )


def test_an_admin_sees_and_lifts_a_lockout(client, rep, admin_user):
    for _ in range(5):
        _login(client, "rita", "wrong", ip="10.1.0.5")
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == ("rita", "10.1.0.5", 5)
    assert "password=********" in attempt.post_data
    admin = client_for(admin_user)
    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200
    assert "rita" in listing.content.decode()
    response = admin.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert AccessAttempt.objects.count() == 0
    assert _login(client, "rita", PASSWORD, ip="10.1.0.5")["Location"] == "/admin/"


def test_a_rep_cannot_lift_lockouts(rep_client):
    assert rep_client.get("/admin/axes/accessattempt/").status_code == 403
