"""Revoking an API key is final: not in the admin, not through the ORM (docs/roles.md)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from oms import roles
from oms.exceptions import InvalidTransition
from orders.models import KEY_REVOKED, ApiClient
from tests.helpers import token_client

pytestmark = pytest.mark.django_db


def staff_client(role: str) -> Client:
    user = get_user_model().objects.create_user(role, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def revoke_in_admin(client: Client, api_client: ApiClient):
    return client.post(
        "/admin/orders/apiclient/", {"action": "revoke", "_selected_action": [str(api_client.pk)]}
    )


def test_a_key_revoked_in_the_admin_stays_revoked_when_the_form_clears_it(key_a):
    admin = staff_client(roles.ADMIN)
    api_client = ApiClient.objects.get()
    assert token_client(key_a).get("/api/v1/products/").status_code == 200
    before = timezone.now()
    assert revoke_in_admin(admin, api_client).status_code == 302
    api_client.refresh_from_db()
    revoked_at = api_client.revoked_at
    assert before <= revoked_at <= timezone.now()
    assert token_client(key_a).get("/api/v1/products/").status_code == 401

    response = admin.post(
        f"/admin/orders/apiclient/{api_client.pk}/change/",
        {"name": "back in business", "revoked_at_0": "", "revoked_at_1": "", "revoked_at": ""},
    )

    assert response.status_code == 302  # the name is saved; the revocation time is not a form field
    api_client.refresh_from_db()
    assert (api_client.name, api_client.revoked_at) == ("back in business", revoked_at)
    assert token_client(key_a).get("/api/v1/products/").status_code == 401


def test_a_rep_can_neither_see_nor_revoke_keys(key_a):
    rep = staff_client(roles.REP)
    api_client = ApiClient.objects.get()

    assert rep.get(f"/admin/orders/apiclient/{api_client.pk}/change/").status_code == 403
    assert revoke_in_admin(rep, api_client).status_code == 403
    api_client.refresh_from_db()
    assert api_client.revoked_at is None
    assert token_client(key_a).get("/api/v1/products/").status_code == 200


def test_the_model_refuses_to_save_a_revoked_key_as_valid(key_a):
    api_client = ApiClient.objects.get()
    revoke_in_admin(staff_client(roles.ADMIN), api_client)
    api_client.refresh_from_db()
    revoked_at = api_client.revoked_at

    api_client.revoked_at = None
    with pytest.raises(InvalidTransition) as raised:
        api_client.save()

    assert raised.value.detail == KEY_REVOKED
    assert ApiClient.objects.get().revoked_at == revoked_at
    assert token_client(key_a).get("/api/v1/products/").status_code == 401
