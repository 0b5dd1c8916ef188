"""The staff's second factor: who must give it, enrolment, codes, recovery codes, throttling."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from console import second_factor
from oms import roles
from tests.console.conftest import PASSWORD, client_for, make_user

pytestmark = pytest.mark.django_db
ENROL = "/admin/second-factor/enrol/"
VERIFY = "/admin/second-factor/verify/"


@pytest.fixture
def required(settings):
    settings.OMS_STAFF_2FA_REQUIRED = True


def code_for(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The authenticator app's code: RFC 6238 from the device's key (a later step is accepted too)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def enrolled(user) -> list[str]:
    """Enrol `user` through the pages; returns the recovery codes shown."""
    client = client_for(user)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(ENROL, {"code": code_for(device)})
    assert response.status_code == 200
    return re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())


def test_staff_without_a_second_factor_reach_only_enrolment_when_it_is_required(required, rep):
    client = client_for(rep)
    for url in ("/admin/", "/admin/console/", "/admin/orders/order/", "/admin/second-factor/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"] == f"{ENROL}?next={url.replace('/', '%2F')}"
    # A form sent to the console is refused too, and nothing is done.
    response = client.post("/admin/console/exports/", {"status": "placed"})
    assert response.status_code == 302
    assert response["Location"] == ENROL
    assert client.get(ENROL).status_code == 200


def test_every_staff_kind_must_have_one(required, db):
    superuser = make_user(None, "root")
    superuser.is_superuser = True
    superuser.save()
    plain_staff = make_user(None, "helper")
    non_staff_rep = make_user(roles.REP, "ray", staff=False)
    customer = make_user(roles.CUSTOMER, "carl", staff=False)
    assert [
        second_factor.second_factor_required(u)
        for u in (superuser, plain_staff, non_staff_rep, make_user(roles.DISPATCHER, "dan"), customer)
    ] == [True, True, True, True, False]
    # A rep without admin-site access is held at the second factor too, wherever they go.
    assert client_for(non_staff_rep).get("/portal/")["Location"] == f"{ENROL}?next=%2Fportal%2F"
    assert not client_for(customer).get("/portal/").get("Location", "").startswith(ENROL)


def test_enrolment_confirms_with_a_code_and_shows_ten_recovery_codes_once(required, rep):
    client = client_for(rep)
    page = client.get(f"{ENROL}?next=/admin/console/").content.decode()
    device = TOTPDevice.objects.get(user=rep, confirmed=False)
    assert re.search(r'<svg width="\d+" height="\d+" class="segno"><path ', page)
    assert second_factor.totp_secret(device) in page
    assert 'autocomplete="one-time-code"' in page
    assert 'inputmode="numeric"' in page
    # The same secret on reload; a wrong code confirms nothing.
    client.get(ENROL)
    response = client.post(ENROL, {"code": "000000" if code_for(device) != "000000" else "111111"})
    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert TOTPDevice.objects.filter(user=rep).count() == 1
    assert TOTPDevice.objects.get(user=rep).confirmed is False
    device.refresh_from_db()
    device.throttling_failure_timestamp = None  # the wait after a wrong code is tested below
    device.save()
    response = client.post(ENROL, {"code": code_for(device), "next": "/admin/console/"})
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(set(codes)) == 10
    assert sorted(StaticToken.objects.filter(device__user=rep).values_list("token", flat=True)) == sorted(
        codes
    )
    assert TOTPDevice.objects.get(user=rep).confirmed is True
    assert 'href="/admin/console/"' in response.content.decode()
    assert client.get("/admin/console/").status_code == 200
    # Enrolment is closed once done; the codes are never shown again.
    assert client.get(ENROL)["Location"] == "/admin/second-factor/"
    page = client.get("/admin/second-factor/").content.decode()
    assert "You have 10 unused recovery codes." in page
    assert not any(code in page for code in codes)


def test_the_next_sign_in_asks_for_the_code(required, rep):
    enrolled(rep)
    device = TOTPDevice.objects.get(user=rep)
    client = Client()
    response = client.post(
        "/admin/login/", {"username": "rita", "password": PASSWORD, "next": "/admin/console/"}
    )
    assert response["Location"] == "/admin/console/"
    response = client.get("/admin/console/")
    assert response["Location"] == f"{VERIFY}?next=%2Fadmin%2Fconsole%2F"
    # Enrolling again is no way around it.
    assert client.get(ENROL)["Location"] == "/admin/second-factor/"
    assert client.get("/admin/second-factor/")["Location"].startswith(VERIFY)
    page = client.get(f"{VERIFY}?next=/admin/console/").content.decode()
    assert 'autocomplete="one-time-code"' in page
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1), "next": "/admin/console/"})
    assert response["Location"] == "/admin/console/"
    assert client.get("/admin/console/").status_code == 200


def test_a_code_is_accepted_once(required, rep):
    enrolled(rep)
    device = TOTPDevice.objects.get(user=rep)
    code = code_for(device, steps_ahead=1)
    assert client_for(rep).post(VERIFY, {"code": code})["Location"] == "/admin/"
    replay = client_for(rep)
    response = replay.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert replay.get("/admin/").status_code == 302


def test_a_recovery_code_works_once(required, rep):
    codes = enrolled(rep)
    first = client_for(rep)
    response = first.post(VERIFY, {"recovery_code": codes[3].upper()[:4] + "-" + codes[3][4:]})
    assert response["Location"] == "/admin/"
    assert "9 are left" in first.get("/admin/").content.decode()
    assert StaticToken.objects.filter(device__user=rep).count() == 9
    second = client_for(rep)
    response = second.post(VERIFY, {"recovery_code": codes[3]})
    assert response.status_code == 200
    assert "That code is not valid." in response.content.decode()
    assert second.get("/admin/").status_code == 302


def test_wrong_codes_make_the_next_one_wait(required, rep):
    enrolled(rep)
    device = TOTPDevice.objects.get(user=rep)
    client = client_for(rep)
    wrong = "000000" if code_for(device, 1) != "000000" else "111111"
    assert client.post(VERIFY, {"code": wrong}).status_code == 200
    # Right after a wrong code even the right one is not checked.
    response = client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    assert response.status_code == 429
    assert "Too many wrong codes in a row." in response.content.decode()
    assert client.get("/admin/").status_code == 302
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    # After the wait (1 s after one wrong code, doubling with each further one) it is.
    device.throttling_failure_timestamp -= timedelta(seconds=2)
    device.save()
    assert client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})["Location"] == "/admin/"


def test_new_recovery_codes_replace_the_old_ones(required, rep):
    old = enrolled(rep)
    device = TOTPDevice.objects.get(user=rep)
    client = client_for(rep)
    client.post(VERIFY, {"code": code_for(device, steps_ahead=1)})
    response = client.post("/admin/second-factor/recovery-codes/")
    new = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", response.content.decode())
    assert len(new) == 10
    assert set(StaticToken.objects.filter(device__user=rep).values_list("token", flat=True)) == set(new)
    assert client_for(rep).post(VERIFY, {"recovery_code": old[0]}).status_code == 200


def test_not_required_staff_sign_in_without_it_but_a_set_up_factor_is_always_asked(rep, dispatcher):
    assert client_for(dispatcher).get("/admin/").status_code == 200
    enrolled(rep)
    assert client_for(rep).get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    # The header links to the page where staff set it up.
    assert 'href="/admin/second-factor/"' in client_for(dispatcher).get("/admin/").content.decode()


def test_customers_never_need_one(required, world):
    from tests.portal.conftest import PASSWORD as CUSTOMER_PASSWORD
    from tests.portal.conftest import make_customer, user_of

    customer = make_customer("Alpha Ltd", "alpha@example.com")
    client = Client()
    response = client.post("/portal/login/", {"username": "alpha@example.com", "password": CUSTOMER_PASSWORD})
    assert response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    assert user_of(customer).is_staff is False


def test_an_admin_resets_a_lost_second_factor(required, rep, admin_user):
    enrolled(rep)
    admin = client_for(admin_user)
    enrolled(admin_user)
    admin.post(VERIFY, {"code": code_for(TOTPDevice.objects.get(user=admin_user), steps_ahead=1)})
    device = TOTPDevice.objects.get(user=rep)
    response = admin.post(
        "/admin/otp_totp/totpdevice/",
        {"action": "delete_selected", "_selected_action": [device.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=rep).exists()
    assert client_for(rep).get("/admin/")["Location"] == f"{ENROL}?next=%2Fadmin%2F"


def test_the_admin_shows_no_secret_of_a_device(rep, admin_user):
    codes = enrolled(rep)
    device = TOTPDevice.objects.get(user=rep)
    admin = client_for(admin_user)
    page = admin.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert "rita" in page
    assert device.key not in page
    assert second_factor.totp_secret(device).replace(" ", "") not in page.replace(" ", "")
    assert admin.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
    static = StaticToken.objects.filter(device__user=rep).first().device
    page = admin.get(f"/admin/otp_static/staticdevice/{static.pk}/change/").content.decode()
    assert "rita" in page
    assert not any(code in page for code in codes)
