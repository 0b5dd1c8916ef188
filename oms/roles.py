"""The staff and customer roles as auth groups, with the permissions each one holds.

`ROLE_PERMISSIONS` lists the model actions per role, by app or by model (a model's own entry replaces
its app's), and `ROLE_EXTRA` the custom permissions. docs/roles.md is the matrix they implement, with
the reasons; a test compares both. A migration creates the groups; `sync_roles` runs after every
migrate so permissions of models added later are granted too.
"""

from __future__ import annotations

CUSTOMER = "customer"
REP = "rep"
DISPATCHER = "dispatcher"
ADMIN = "admin"
ROLES = (CUSTOMER, REP, DISPATCHER, ADMIN)

V = ("view",)
VC = ("view", "change")
VAC = ("view", "add", "change")
VACD = ("view", "add", "change", "delete")
VD = ("view", "delete")
ERP_PLATFORM_MODELS = tuple(
    f"oms.{m}" for m in ("erpsystem", "externalref", "outboxmessage", "outboxaggregate")
)
# docs/roles.md is the matrix these definitions implement; tests/oms/test_roles.py reads it and
# compares every group's permissions with it.
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # role → app label (every model of the app) or "app_label.model" → model actions.
    CUSTOMER: {},
    REP: {
        # Reps take orders and look after customers; a phone order may create a customer or a site.
        "customers": V,
        "customers.customer": VAC,
        "customers.site": VAC,
        "catalog": V,
        "orders": V,
        "orders.order": VC,
        "orders.apiclient": (),
        "fleet": V,
        "erp_sync": V,
        **dict.fromkeys(ERP_PLATFORM_MODELS, V),
    },
    DISPATCHER: {
        # Dispatchers run the plants and the fleet (tours and jobs through the dispatch board).
        "customers": V,
        "catalog": V,
        "catalog.plant": VAC,
        "orders": V,
        "orders.apiclient": (),
        "fleet": V,
        "fleet.truck": VAC,
        "fleet.driver": VAC,
        "erp_sync": V,
        **dict.fromkeys(ERP_PLATFORM_MODELS, V),
    },
    ADMIN: {
        # Admins keep the master data and the users. Orders, returns, tours and jobs change through
        # the console's actions (the custom permissions below); what the system writes (timelines,
        # the ERP inbox and outbox, sync runs) stays as it was written.
        "customers": VACD,
        "customers.customerevent": V,
        # The record of an erasure is written by the erasure only, and kept.
        "customers.customererasure": V,
        "catalog": VACD,
        "orders": V,
        "orders.salespoint": VACD,
        "orders.order": VC,
        "orders.apiclient": VC,
        "fleet": V,
        "fleet.truck": VACD,
        "fleet.driver": VACD,
        "erp_sync": V,
        "oms": V,
        "oms.erpsystem": VAC,
        "oms.externalref": VACD,
        "auth": V,
        "auth.user": VAC,
        # Lift sign-in lockouts, and reset a lost second factor by deleting the user's devices.
        "axes.accessattempt": VD,
        "axes.accesslog": V,
        "otp_totp": VD,
        "otp_static": VD,
    },
}
# Extra custom permissions per role ("app_label.codename"), granted when the permission exists.
ROLE_EXTRA: dict[str, tuple[str, ...]] = {
    REP: (
        "orders.place_phone_order",
        "orders.cancel_order",
        "orders.approve_cancellation",
        "orders.correct_order",
        "orders.manage_returns",
        "erp_sync.replay_outbox",
        "customers.export_personal_data",
    ),
    DISPATCHER: ("fleet.dispatch",),
    ADMIN: (
        "orders.place_phone_order",
        "orders.cancel_order",
        "orders.approve_cancellation",
        "orders.correct_order",
        "orders.manage_returns",
        "erp_sync.replay_outbox",
        "fleet.dispatch",
        "customers.export_personal_data",
        "customers.erase_personal_data",
    ),
}


def _grants(role: str, permission) -> bool:
    """Whether `role`'s definition holds `permission` (a model's own entry replaces its app's)."""
    app_label, model = permission.content_type.app_label, permission.content_type.model
    if f"{app_label}.{permission.codename}" in ROLE_EXTRA.get(role, ()):
        return True
    scopes = ROLE_PERMISSIONS[role]
    actions = scopes.get(f"{app_label}.{model}", scopes.get(app_label, ()))
    return any(permission.codename == f"{action}_{model}" for action in actions)


def sync_roles(group_model, permission_model) -> None:
    """Create the role groups and give each exactly the permissions of its definition."""
    every = list(permission_model.objects.select_related("content_type"))
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set([permission for permission in every if _grants(role, permission)])


def sync_roles_after_migrate(sender, **kwargs) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles(Group, Permission)
