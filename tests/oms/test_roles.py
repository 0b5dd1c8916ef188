"""The role groups exist after migrate, hold exactly the permissions of docs/roles.md, and
`sync_roles` converges to them."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission

from oms.roles import ADMIN, CUSTOMER, DISPATCHER, REP, ROLES, sync_roles

ROLES_DOC = Path(settings.BASE_DIR) / "docs" / "roles.md"
# The apps whose every model must have a row in the matrix.
MATRIX_APPS = (
    "oms",
    "catalog",
    "customers",
    "orders",
    "fleet",
    "erp_sync",
    "auth",
    "axes",
    "otp_totp",
    "otp_static",
)
ACTIONS = {"view", "add", "change", "delete"}
ROW = re.compile(r"^\| `(?P<name>[a-z_]+\.[a-z_]+)` \|(?P<cells>.*)\|$")


def doc_tables() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """(model rows, action rows, role columns) of docs/roles.md: name → its cells per role column."""
    text = ROLES_DOC.read_text()
    models_part, actions_part = text.split("\n## Actions\n")
    header = next(line for line in models_part.splitlines() if line.startswith("| model |"))
    columns = [c.strip() for c in header.strip("|").split("|")][2:]

    def rows(part: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for line in part.splitlines():
            match = ROW.match(line)
            if match:
                assert match["name"] not in found, f"{match['name']} has two rows"
                found[match["name"]] = [c.strip() for c in match["cells"].split("|")][1:]
        return found

    return rows(models_part), rows(actions_part), columns


def documented_permissions(role: str) -> set[tuple[str, str]]:
    """(app label, codename) pairs docs/roles.md grants `role`."""
    model_rows, action_rows, columns = doc_tables()
    column = columns.index(role)
    granted = set()
    for name, cells in model_rows.items():
        app_label, model = name.split(".")
        actions = set() if cells[column] == "—" else set(cells[column].split())
        assert actions <= ACTIONS, f"{name}: unknown action in {cells[column]!r}"
        granted |= {(app_label, f"{action}_{model}") for action in actions}
    for name, cells in action_rows.items():
        assert cells[column] in {"yes", "—"}, f"{name}: {cells[column]!r}"
        if cells[column] == "yes":
            granted.add(tuple(name.split(".")))
    return granted


def group_permissions(role: str) -> set[tuple[str, str]]:
    return set(Group.objects.get(name=role).permissions.values_list("content_type__app_label", "codename"))


def snapshot():
    return {
        group.name: sorted(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.prefetch_related("permissions")
    }


def test_the_matrix_has_one_row_per_model_a_column_per_role_and_superusers_hold_everything():
    model_rows, action_rows, columns = doc_tables()
    every_model = {
        f"{app_label}.{model._meta.model_name}"
        for app_label in MATRIX_APPS
        for model in apps.get_app_config(app_label).get_models()
    }
    assert sorted(model_rows) == sorted(every_model)
    assert columns == [*ROLES, "superuser"]
    assert {cells[-1] for cells in model_rows.values()} == {"all"}
    assert {cells[-1] for cells in action_rows.values()} == {"yes"}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_each_group_holds_exactly_the_permissions_of_docs_roles(role):
    sync_roles(Group, Permission)
    granted = group_permissions(role)
    documented = documented_permissions(role)

    assert sorted(granted - documented) == [], "granted but not in docs/roles.md"
    assert sorted(documented - granted) == [], "in docs/roles.md but not granted (or no such permission)"


@pytest.mark.django_db
def test_the_migrated_groups_already_match_the_matrix():
    assert sorted(Group.objects.values_list("name", flat=True)) == sorted([CUSTOMER, REP, DISPATCHER, ADMIN])
    assert ROLES == ("customer", "rep", "dispatcher", "admin")
    assert {role: group_permissions(role) for role in ROLES} == {
        role: documented_permissions(role) for role in ROLES
    }
    assert not Group.objects.get(name=CUSTOMER).permissions.exists()


@pytest.mark.django_db
def test_no_role_may_edit_prices_products_stock_or_sales_points_but_the_admin():
    sensitive = {
        ("catalog", "change_product"),
        ("catalog", "add_product"),
        ("catalog", "change_stocklevel"),
        ("orders", "change_salespoint"),
        ("orders", "change_apiclient"),
        ("auth", "change_group"),
        ("auth", "change_permission"),
    }
    assert {role: sorted(group_permissions(role) & sensitive) for role in ROLES} == {
        CUSTOMER: [],
        REP: [],
        DISPATCHER: [],
        ADMIN: [
            ("catalog", "add_product"),
            ("catalog", "change_product"),
            ("catalog", "change_stocklevel"),
            ("orders", "change_apiclient"),
            ("orders", "change_salespoint"),
        ],
    }


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

    assert group_permissions(ADMIN) == documented_permissions(ADMIN)
    assert group_permissions(REP) == documented_permissions(REP)
