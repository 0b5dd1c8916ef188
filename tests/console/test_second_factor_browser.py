"""A staff member's first sign-ins with the second factor required, in a real browser (Playwright
driving the system Chromium): enrolment, the code at the next sign-in, a recovery code once."""

from __future__ import annotations

import os
import re
import time
from base64 import b32decode

import pytest
from django_otp.oath import TOTP

from oms import roles
from tests.browser import open_page
from tests.console.conftest import PASSWORD, make_user

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"


def authenticator_code(secret: str, steps_ahead: int = 0) -> str:
    """What the phone app would show for the secret on the enrolment page (RFC 6238, 30 s steps)."""
    totp = TOTP(b32decode(secret.replace(" ", "")), step=30, digits=6)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/admin/login/?next=/admin/console/")
    page.locator("#id_username").fill("rita")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()


def sign_out(page) -> None:
    page.locator("#logout-form button").click()
    page.wait_for_url(re.compile(r"/portal/login/$"))  # LOGOUT_REDIRECT_URL


@pytest.mark.browser
def test_staff_enrol_then_give_a_code_or_a_recovery_code_once(live_server, transactional_db, settings):
    settings.OMS_STAFF_2FA_REQUIRED = True
    make_user(roles.REP, "rita")
    base = live_server.url
    with open_page(viewport={"width": 1200, "height": 900}) as (page, problems):
        # No second factor yet: the console is out of reach, enrolment is where the sign-in lands.
        sign_in(page, base)
        page.wait_for_url(re.compile(r"/admin/second-factor/enrol/\?next="))
        page.goto(f"{base}/admin/console/")
        page.wait_for_url(re.compile(r"/admin/second-factor/enrol/\?next="))
        assert page.locator(".second-factor-qr svg").is_visible()
        secret = page.locator("#totp-secret").inner_text()
        page.get_by_label("6-digit code from your authenticator app").fill(authenticator_code(secret))
        page.get_by_role("button", name="Turn on two-step verification").click()
        codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10
        page.get_by_role("link", name="I have saved them, continue").click()
        page.wait_for_url(f"{base}/admin/console/")
        assert page.get_by_role("heading", name="Console").count() >= 1
        sign_out(page)

        # The next sign-in asks for the code.
        sign_in(page, base)
        page.wait_for_url(re.compile(r"/admin/second-factor/verify/\?next="))
        page.get_by_label("6-digit code from your authenticator app").fill(authenticator_code(secret, 1))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(f"{base}/admin/console/")
        sign_out(page)

        # A recovery code instead, once.
        for attempt in ("first", "again"):
            sign_in(page, base)
            page.wait_for_url(re.compile(r"/admin/second-factor/verify/\?next="))
            page.get_by_label("Recovery code").fill(codes[0])
            page.get_by_role("button", name="Use recovery code").click()
            if attempt == "first":
                page.wait_for_url(f"{base}/admin/console/")
                assert "9 are left" in page.locator("ul.messagelist").inner_text()
                sign_out(page)
        assert (
            page.locator("#id_recovery_code-errors").inner_text()
            == "That code is not valid. Check it and try again."
        )
        page.goto(f"{base}/admin/console/")
        page.wait_for_url(re.compile(r"/admin/second-factor/verify/\?next="))
    assert problems == []
