"""The role groups exist after migrate and `sync_roles` converges to the same permissions."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from oms.roles import ADMIN, CUSTOMER, DISPATCHER, REP, ROLES, sync_roles


def permissions_of(role, app_label):
    return set(
        Group.objects.get(name=role)
        .permissions.filter(content_type__app_label=app_label)
        .values_list("codename", flat=True)
    )


def view_permissions_of_app(app_label):
    return {f"view_{model._meta.model_name}" for model in apps.get_app_config(app_label).get_models()}


ERP_PLATFORM = {"erpsystem", "externalref", "outboxmessage", "outboxaggregate"}


def snapshot():
    return {
        group.name: sorted(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.prefetch_related("permissions")
    }


@pytest.mark.django_db
def test_role_groups_exist_after_migrations():
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted([CUSTOMER, REP, DISPATCHER, ADMIN])
    assert ROLES == ("customer", "rep", "dispatcher", "admin")


@pytest.mark.django_db
def test_admin_may_view_platform_tables_and_manage_users_but_not_delete_them():
    platform = permissions_of(ADMIN, "oms")
    assert {"view_lease", "view_jobslot", "view_idempotencyrecord"} <= platform
    erp_tables = {f"{action}_{model}" for action in ("add", "change", "delete") for model in ERP_PLATFORM}
    assert platform == view_permissions_of_app("oms") | erp_tables
    assert permissions_of(ADMIN, "auth") == {
        "view_user",
        "add_user",
        "change_user",
        "view_group",
        "add_group",
        "change_group",
        "view_permission",
        "add_permission",
        "change_permission",
    }


@pytest.mark.django_db
def test_customers_rep_and_dispatcher_get_nothing_of_the_platform_or_auth_but_view_the_erp_tables():
    assert permissions_of(CUSTOMER, "oms") == set()
    for role in (REP, DISPATCHER):
        assert permissions_of(role, "oms") == {f"view_{model}" for model in ERP_PLATFORM}
    for role in (CUSTOMER, REP, DISPATCHER):
        assert permissions_of(role, "auth") == set()
    assert not Group.objects.get(name=CUSTOMER).permissions.exists()


@pytest.mark.django_db
def test_sync_roles_is_idempotent():
    before = snapshot()

    sync_roles(Group, Permission)
    sync_roles(Group, Permission)

    assert Group.objects.filter(name__in=ROLES).count() == 4
    assert snapshot() == before


@pytest.mark.django_db
def test_sync_roles_recreates_a_deleted_group_and_removes_stray_permissions():
    Group.objects.filter(name=ADMIN).delete()
    rep = Group.objects.get(name=REP)
    rep.permissions.add(Permission.objects.get(content_type__app_label="auth", codename="delete_user"))

    sync_roles(Group, Permission)

    assert view_permissions_of_app("oms") <= permissions_of(ADMIN, "oms")
    assert permissions_of(REP, "auth") == set()
