"""No way up below a superuser in the user and group admin (docs/roles.md, "Staff accounts")."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client

from oms import roles

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "staff-pass-123"  # noqa: S105


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make(username: str, *groups: str, staff: bool = True, superuser: bool = False):
    user = User.objects.create_user(
        username, f"{username}@example.com", PASSWORD, is_staff=staff, is_superuser=superuser
    )
    user.groups.set(Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def ada():
    """An admin: the `admin` role, not a superuser."""
    return make("ada", roles.ADMIN)


@pytest.fixture
def ada_client(ada) -> Client:
    client = Client()
    client.force_login(ada)
    return client


def change_form(user, **overrides) -> dict:
    """The POST of the user change form as a non-superuser's browser sends it, with `overrides`."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def state(user) -> tuple:
    user.refresh_from_db()
    return (
        user.is_superuser,
        user.is_staff,
        sorted(user.groups.values_list("name", flat=True)),
        sorted(user.user_permissions.values_list("codename", flat=True)),
        user.password,
    )


def test_an_admin_cannot_make_themselves_superuser_and_nothing_changes(ada, ada_client):
    before = state(ada)

    response = ada_client.post(
        f"/admin/auth/user/{ada.pk}/change/", change_form(ada, is_superuser="on", is_staff="on")
    )

    assert response.status_code == 403
    assert state(ada) == before == (False, True, ["admin"], [], before[4])


def test_an_admin_cannot_change_their_own_roles_or_permissions(ada, ada_client):
    before = state(ada)
    rep = Group.objects.get(name=roles.REP)

    response = ada_client.post(f"/admin/auth/user/{ada.pk}/change/", change_form(ada, groups=[rep.pk]))

    assert response.status_code == 403
    assert state(ada) == before


def test_an_admin_edits_their_own_name_without_touching_their_roles(ada, ada_client):
    response = ada_client.post(f"/admin/auth/user/{ada.pk}/change/", change_form(ada, first_name="Ada"))

    assert response.status_code == 302
    ada.refresh_from_db()
    assert (ada.first_name, ada.is_staff, ada.is_superuser) == ("Ada", True, False)
    assert list(ada.groups.values_list("name", flat=True)) == ["admin"]


def test_an_admin_cannot_reset_a_superusers_password_or_edit_them(ada_client):
    root = make("root", superuser=True)
    before = state(root)

    password = ada_client.post(
        f"/admin/auth/user/{root.pk}/password/",
        {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"},
    )
    change = ada_client.post(f"/admin/auth/user/{root.pk}/change/", change_form(root, email="a@evil.example"))

    assert (password.status_code, change.status_code) == (403, 403)
    assert state(root) == before
    assert root.check_password(PASSWORD)
    assert root.email == "root@example.com"


def test_an_admin_cannot_take_over_another_admin(ada_client):
    other = make("otto", roles.ADMIN)
    before = state(other)

    response = ada_client.post(
        f"/admin/auth/user/{other.pk}/password/",
        {"password1": "taken-over-123", "password2": "taken-over-123", "usable_password": "true"},
    )

    assert response.status_code == 403
    assert state(other) == before
    assert ada_client.get(f"/admin/auth/user/{other.pk}/change/").status_code == 200  # read-only


def test_an_admin_grants_the_rep_role_and_staff_status_follows_it(ada_client):
    rita = make("rita", staff=False)
    rep = Group.objects.get(name=roles.REP)

    response = ada_client.post(f"/admin/auth/user/{rita.pk}/change/", change_form(rita, groups=[rep.pk]))

    assert response.status_code == 302
    assert state(rita)[:4] == (False, True, ["rep"], [])

    ada_client.post(f"/admin/auth/user/{rita.pk}/change/", change_form(rita, groups=None))
    assert state(rita)[:4] == (False, False, [], [])


def test_an_admin_cannot_grant_the_admin_role_or_a_permission_they_lack(ada_client):
    rita = make("rita", roles.REP)
    before = state(rita)
    admin_group = Group.objects.get(name=roles.ADMIN)
    delete_user = Permission.objects.get(content_type__app_label="auth", codename="delete_user")

    as_admin = ada_client.post(
        f"/admin/auth/user/{rita.pk}/change/", change_form(rita, groups=[admin_group.pk])
    )
    with_perm = ada_client.post(
        f"/admin/auth/user/{rita.pk}/change/", change_form(rita, user_permissions=[delete_user.pk])
    )

    assert (as_admin.status_code, with_perm.status_code) == (200, 200)  # the form again, with errors
    assert "groups" in as_admin.context["adminform"].form.errors
    assert "user_permissions" in with_perm.context["adminform"].form.errors
    assert state(rita) == before


def test_a_superuser_still_sets_every_flag(client):
    root = make("root", superuser=True)
    ada = make("ada", roles.ADMIN)
    client.force_login(root)
    form = change_form(ada, is_superuser="on", is_staff="on", groups=[Group.objects.get(name=roles.ADMIN).pk])

    response = client.post(f"/admin/auth/user/{ada.pk}/change/", form)

    assert response.status_code == 302
    assert state(ada)[:3] == (True, True, ["admin"])


def test_only_a_superuser_edits_a_roles_permissions(ada_client):
    rep = Group.objects.get(name=roles.REP)
    before = sorted(rep.permissions.values_list("pk", flat=True))
    delete_user = Permission.objects.get(content_type__app_label="auth", codename="delete_user")

    response = ada_client.post(
        f"/admin/auth/group/{rep.pk}/change/", {"name": "rep", "permissions": [*before, delete_user.pk]}
    )

    assert response.status_code == 403
    assert sorted(rep.permissions.values_list("pk", flat=True)) == before
