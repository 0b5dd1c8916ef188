"""The staff's second factor: an authenticator app (TOTP) and ten one-time recovery codes (django-otp).

Who needs one (`second_factor_required`), enrolment (an unconfirmed TOTP device until a first code
proves the app holds the secret), verification under django-otp's throttling (each wrong code in a
row doubles the wait before the next is even checked) and recovery codes, shown once and stored as
django-otp static tokens, each accepted once.
"""

from __future__ import annotations

from base64 import b32encode
from typing import NamedTuple

import segno
from django.conf import settings
from django.db import transaction
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from oms import roles

STAFF_ROLES = (roles.REP, roles.DISPATCHER, roles.ADMIN)
RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"


def is_staff_user(user) -> bool:
    """Everyone who can enter the admin site (and the console in it) or holds a staff role."""
    if user.is_superuser or user.is_staff:
        return True
    return user.groups.filter(name__in=STAFF_ROLES).exists()


def second_factor_required(user) -> bool:
    return settings.OMS_STAFF_2FA_REQUIRED and is_staff_user(user)


def has_second_factor(user) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def pending_totp_device(user) -> TOTPDevice:
    """The device of an enrolment in progress: the same secret until it is confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The `otpauth://` URL as an inline SVG QR code (no script, no external image)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=4, border=2)


class Verification(NamedTuple):
    device: Device | None  # the device that accepted the code
    throttled: bool  # refused unchecked: too many wrong codes in a row, wait and retry


def _verify(device: Device | None, code: str) -> Verification:
    if device is None:
        return Verification(None, False)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return Verification(None, True)
    return Verification(device if device.verify_token(code) else None, False)


@transaction.atomic
def totp_enrolment_confirm(*, user, code: str) -> Verification:
    """Confirm the pending authenticator with its first code; the user then has a second factor."""
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("pk").first()
    result = _verify(device, code)
    if result.device is not None:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return result


@transaction.atomic
def second_factor_verify(*, user, code: str, recovery: bool) -> Verification:
    """Check an authenticator code, or a recovery code (which is then used up)."""
    model = StaticDevice if recovery else TOTPDevice
    device = model.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
    return _verify(device, normalize_recovery_code(code) if recovery else code)


def normalize_recovery_code(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


@transaction.atomic
def recovery_codes_issue(*, user) -> list[str]:
    """Replace the user's recovery codes with new ones. Only the caller sees them, once."""
    device, _ = StaticDevice.objects.select_for_update().get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
