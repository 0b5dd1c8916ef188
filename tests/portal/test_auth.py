"""Sign-in with brute-force protection (per account and per IP), sign-up by verified email, invitations, password reset."""

from __future__ import annotations

import json
import re
import time

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse

from customers import signup
from customers.models import PortalAccess
from oms.lib import crypto
from oms.lib.signin import locked_message
from tests.portal.conftest import PASSWORD, make_customer, user_of

pytestmark = pytest.mark.django_db
LOGIN = "/portal/login/"


def _login(client, email, password, ip="10.0.0.1", **extra):
    return client.post(LOGIN, {"username": email, "password": password}, REMOTE_ADDR=ip, **extra)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_sign_in_and_out(client, customer_a):
    response = _login(client, "Alpha@Example.com", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    assert _signed_in(client)
    response = client.post(reverse("portal:logout"))
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert not _signed_in(client)


def test_pages_need_sign_in(client, customer_a):
    response = client.get(reverse("portal:orders"))
    assert response.status_code == 302
    assert response["Location"] == "/portal/login/?next=/portal/"


def test_fifth_wrong_password_locks_the_account_from_every_address(client, customer_a):
    for _ in range(4):
        response = _login(client, "alpha@example.com", "wrong-password", ip="10.0.0.1")
        assert response.status_code == 200
        assert "Wrong email or password." in response.content.decode()
    response = _login(client, "alpha@example.com", "wrong-password", ip="10.0.0.1")
    assert response.status_code == 429
    assert locked_message() in response.content.decode()
    assert locked_message() == "Too many failed sign-in attempts. Sign-in is locked for 15 minutes."
    # Locked even with the right password, from this address and from any other (case ignored).
    for ip in ("10.0.0.1", "10.0.0.2"):
        response = _login(client, "Alpha@Example.com", PASSWORD, ip=ip)
        assert response.status_code == 429
        assert locked_message() in response.content.decode()
        assert not _signed_in(client)


def test_password_spraying_from_one_ip_is_refused_after_the_limit(client, customer_a):
    codes = [
        _login(client, f"guess{i}@example.com", "Summer2026!", ip="10.0.0.7").status_code for i in range(20)
    ]
    assert codes == [200] * 4 + [429] * 16
    # The address is locked for every account, the right password included; others still sign in.
    assert _login(client, "alpha@example.com", PASSWORD, ip="10.0.0.7").status_code == 429
    assert not _signed_in(client)
    assert _login(client, "alpha@example.com", PASSWORD, ip="10.0.0.8").status_code == 302
    assert _signed_in(client)


def test_forwarded_for_is_used_only_behind_a_trusted_proxy(client, customer_a, settings):
    for i in range(5):
        _login(client, f"spray{i}@example.com", "wrong", ip="10.9.9.9", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")
    # Not trusted: every attempt came from the proxy address, which is now locked.
    response = _login(
        client, "alpha@example.com", PASSWORD, ip="10.9.9.9", HTTP_X_FORWARDED_FOR="198.51.100.1"
    )
    assert response.status_code == 429
    settings.OMS_TRUSTED_PROXY_COUNT = 1
    for i in range(5):
        _login(
            client,
            f"other{i}@example.com",
            "wrong",
            ip="10.9.9.9",
            HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7",
        )
    response = _login(
        client, "alpha@example.com", PASSWORD, ip="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7"
    )
    assert response.status_code == 429
    response = _login(
        client, "alpha@example.com", PASSWORD, ip="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.8"
    )
    assert response.status_code == 302


def _link(mail) -> str:
    return re.search(re.escape(settings.SITE_URL) + r"(/portal/\S+)", mail.body).group(1)


def test_sign_up_by_verified_email_creates_user_and_access(client, world, mailoutbox):
    customer = make_customer("Gamma Ltd", "gamma@example.com", with_user=False)
    response = client.post(reverse("portal:signup"), {"email": "Gamma@example.com"})
    assert response.status_code == 200
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["gamma@example.com"]
    link = _link(mailoutbox[0])
    assert client.get(link).status_code == 200
    response = client.post(link, {"first_name": "Gia", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    user = get_user_model().objects.get(username="gamma@example.com")
    assert PortalAccess.objects.filter(user=user, customer=customer).count() == 1
    assert _signed_in(client)
    # The link works once.
    client.logout()
    assert client.post(link, {"password1": PASSWORD, "password2": PASSWORD}).status_code == 400
    assert get_user_model().objects.filter(username="gamma@example.com").count() == 1


def test_sign_up_with_an_unknown_email_sends_nothing(client, world, mailoutbox):
    response = client.post(reverse("portal:signup"), {"email": "nobody@example.com"})
    assert response.status_code == 200
    assert "Check your email" in response.content.decode()
    assert mailoutbox == []


def test_tampered_sign_up_link_is_refused(client, world):
    response = client.get(reverse("portal:signup-complete", args=["abc:def:ghi"]))
    assert response.status_code == 400


def test_sign_up_is_rate_limited(client, world, mailoutbox):
    responses = [client.post(reverse("portal:signup"), {"email": f"x{i}@example.com"}) for i in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 200, 429]
    assert [r.has_header("Retry-After") for r in responses] == [False] * 5 + [True]
    assert 1 <= int(responses[-1]["Retry-After"]) <= 3600


def test_password_reset_sends_a_link_and_is_rate_limited(client, customer_a, mailoutbox):
    response = client.post(reverse("portal:password_reset"), {"email": "alpha@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    link = _link(mailoutbox[0])
    response = client.get(link, follow=True)
    assert "Choose a new password" in response.content.decode()
    for _ in range(4):
        client.post(reverse("portal:password_reset"), {"email": "alpha@example.com"})
    refused = client.post(reverse("portal:password_reset"), {"email": "alpha@example.com"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert len(mailoutbox) == 5


def test_company_invites_a_colleague(client, customer_a, mailoutbox):
    client.force_login(user_of(customer_a))
    response = client.post(reverse("portal:account"), {"email": "colleague@example.com"})
    assert response.status_code == 302
    link = _link(mailoutbox[0])
    client.logout()
    client.post(link, {"password1": PASSWORD, "password2": PASSWORD})
    assert sorted(customer_a.users.values_list("username", flat=True)) == [
        "alpha@example.com",
        "colleague@example.com",
    ]


def test_invitations_are_rate_limited_and_say_when_to_retry(client, customer_a, mailoutbox):
    client.force_login(user_of(customer_a))
    codes = [
        client.post(reverse("portal:account"), {"email": f"colleague{i}@example.com"}).status_code
        for i in range(6)
    ]
    assert codes == [302] * 5 + [429]
    refused = client.post(reverse("portal:account"), {"email": "late@example.com"})
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 3600
    assert "Too many requests" in refused.content.decode()
    assert len(mailoutbox) == 5


def test_user_without_customer_sees_no_access(client, world):
    user = get_user_model().objects.create_user(username="lonely@example.com", password=PASSWORD)
    client.force_login(user)
    assert client.get(reverse("portal:orders")).status_code == 403


# --- links come from OMS_SITE_URL and do not show the address -------------------------------------

FORGED_HOST = "attacker.example"


@pytest.fixture
def any_host(settings):
    """A site that (wrongly) answers any Host header: the links must not follow it."""
    settings.ALLOWED_HOSTS = ["*"]
    settings.SITE_URL = "https://oms.example"


def _only_link(mail) -> str:
    links = re.findall(r"\S+://\S+", mail.body)
    assert len(links) == 1, mail.body
    return links[0]


@pytest.mark.usefixtures("any_host")
def test_sign_up_link_starts_with_the_site_url_whatever_the_host_header(client, world, mailoutbox):
    make_customer("Gamma Ltd", "gamma@example.com", with_user=False)

    client.post(reverse("portal:signup"), {"email": "gamma@example.com"}, HTTP_HOST=FORGED_HOST)

    link = _only_link(mailoutbox[0])
    assert link.startswith("https://oms.example/portal/signup/")
    assert FORGED_HOST not in mailoutbox[0].body


@pytest.mark.usefixtures("any_host")
def test_password_reset_link_starts_with_the_site_url_whatever_the_host_header(
    client, customer_a, mailoutbox
):
    client.post(reverse("portal:password_reset"), {"email": "alpha@example.com"}, HTTP_HOST=FORGED_HOST)

    link = _only_link(mailoutbox[0])
    assert link.startswith("https://oms.example/portal/password-reset/")
    assert FORGED_HOST not in mailoutbox[0].body


@pytest.mark.usefixtures("any_host")
def test_invite_link_starts_with_the_site_url_whatever_the_host_header(client, customer_a, mailoutbox):
    client.force_login(user_of(customer_a))

    client.post(reverse("portal:account"), {"email": "colleague@example.com"}, HTTP_HOST=FORGED_HOST)

    assert _only_link(mailoutbox[0]).startswith("https://oms.example/portal/signup/")


def test_sign_up_link_does_not_carry_the_address(client, world, mailoutbox):
    customer = make_customer("Gamma Ltd", "gamma@example.com", with_user=False)
    client.post(reverse("portal:signup"), {"email": "gamma@example.com"})

    token = _link(mailoutbox[0]).removeprefix("/portal/signup/").strip("/")

    assert "gamma" not in token
    with pytest.raises(signing.BadSignature):
        signing.loads(token, salt=signup.LEGACY_SALT)
    assert signup.signup_read(token) == ("gamma@example.com", str(customer.public_id))


def test_sign_up_link_of_the_previous_format_still_works(client, world):
    customer = make_customer("Gamma Ltd", "gamma@example.com", with_user=False)
    old = signing.dumps({"e": "gamma@example.com", "c": str(customer.public_id)}, salt=signup.LEGACY_SALT)
    link = reverse("portal:signup-complete", args=[old])

    response = client.post(link, {"first_name": "Gia", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 302
    user = get_user_model().objects.get(username="gamma@example.com")
    assert PortalAccess.objects.filter(user=user, customer=customer).count() == 1


def test_expired_sign_up_link_is_refused_and_creates_nothing(client, world, settings):
    customer = make_customer("Gamma Ltd", "gamma@example.com", with_user=False)
    payload = json.dumps({"e": "gamma@example.com", "c": str(customer.public_id)}).encode()
    sent_at = int(time.time()) - settings.OMS_PORTAL_SIGNUP_MAX_AGE - 5
    token = crypto.secret_key_keyring(signup.PURPOSE).encrypt_at_time(payload, sent_at).decode()
    link = reverse("portal:signup-complete", args=[token])

    response = client.post(link, {"first_name": "Gia", "password1": PASSWORD, "password2": PASSWORD})

    assert response.status_code == 400
    assert not get_user_model().objects.filter(username="gamma@example.com").exists()


def test_language_cookie_set_at_sign_in_follows_the_cookie_settings(client, customer_a, settings):
    settings.LANGUAGE_COOKIE_SECURE = True  # as in production
    customer_a.language = "bg"
    customer_a.save(update_fields=["language"])

    response = _login(client, "alpha@example.com", PASSWORD)

    cookie = response.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert (cookie.value, cookie["secure"], cookie["httponly"], cookie["samesite"]) == (
        "bg",
        True,
        True,
        "Lax",
    )


def test_sign_up_link_survives_a_new_secret_key_while_the_old_one_is_a_fallback(client, world, settings):
    customer = make_customer("Gamma Ltd", "gamma@example.com", with_user=False)
    token = signup.signup_token(customer=customer, email="gamma@example.com")
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "a-new-secret-key-" + "z" * 50
    settings.SECRET_KEY_FALLBACKS = [old_key]
    readable_with_fallback = signup.signup_read(token)
    settings.SECRET_KEY_FALLBACKS = []

    assert readable_with_fallback == ("gamma@example.com", str(customer.public_id))
    with pytest.raises(signing.BadSignature):
        signup.signup_read(token)
