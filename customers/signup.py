"""Portal sign-up links: who may create a login for which customer, sealed in the link.

The token is encrypted (`oms.lib.crypto.seal`), so the address it is meant for cannot be read from
the link, and the link starts with `OMS_SITE_URL`: a forged Host header never points it elsewhere.
The portal (sign-up, invites by customers) and the console (invites by staff) send the same links.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from customers.models import Customer
from oms.lib.crypto import seal, unseal

PURPOSE = b"oms.customers.portal-signup.v2"
# Links of the previous format (signed, readable payload) are honoured until they expire.
LEGACY_SALT = "customers.portal.signup"


def signup_token(*, customer: Customer, email: str) -> str:
    return seal({"e": email, "c": str(customer.public_id)}, purpose=PURPOSE)


def signup_link(*, customer: Customer, email: str) -> str:
    """The absolute sign-up link for `email` to join `customer` on the portal."""
    token = signup_token(customer=customer, email=email)
    return settings.SITE_URL + reverse("portal:signup-complete", args=[token])


def signup_read(token: str) -> tuple[str, str]:
    """(email, customer public id) of a sign-up token younger than `OMS_PORTAL_SIGNUP_MAX_AGE`.

    Raises `signing.BadSignature` for a forged, altered or expired token.
    """
    max_age = settings.OMS_PORTAL_SIGNUP_MAX_AGE
    try:
        data = unseal(token, purpose=PURPOSE, max_age=max_age)
    except signing.BadSignature:
        data = signing.loads(token, salt=LEGACY_SALT, max_age=max_age)
    if not isinstance(data, dict) or not isinstance(data.get("e"), str) or not isinstance(data.get("c"), str):
        raise signing.BadSignature("malformed sign-up token")
    return data["e"], data["c"]
