"""The staff and customer roles as auth groups, with the permissions each one holds.

`ROLE_PERMISSIONS` lists permission codenames per role ("app_label.codename"). A migration creates
the groups; `sync_roles` runs after every migrate so permissions of models added later are granted too.
"""

from __future__ import annotations

CUSTOMER = "customer"
REP = "rep"
DISPATCHER = "dispatcher"
ADMIN = "admin"
ROLES = (CUSTOMER, REP, DISPATCHER, ADMIN)

_VIEW = "view"
# The platform tables that belong to the ERP integration (moved from erp_sync; granted as erp_sync is).
ERP_PLATFORM_MODELS = tuple(
    f"oms.{m}" for m in ("erpsystem", "externalref", "outboxmessage", "outboxaggregate")
)
ROLE_PERMISSIONS: dict[str, dict[str, tuple[str, ...]]] = {
    # role → app label (every model of the app) or "app_label.model" → model actions.
    CUSTOMER: {},
    REP: {
        "customers": ("view", "add", "change"),
        "catalog.plant": ("view",),
        "catalog.product": ("view", "add", "change"),
        "catalog.stocklevel": ("view", "add", "change"),
        "orders": ("view", "add", "change"),
        "fleet": ("view",),
        "erp_sync": ("view",),
        **dict.fromkeys(ERP_PLATFORM_MODELS, ("view",)),
    },
    DISPATCHER: {
        "customers": ("view",),
        "catalog.plant": ("view", "add", "change"),
        "catalog.product": ("view",),
        "catalog.stocklevel": ("view",),
        "orders": ("view",),
        "fleet": ("view", "add", "change"),
        "erp_sync": ("view",),
        **dict.fromkeys(ERP_PLATFORM_MODELS, ("view",)),
    },
    ADMIN: {
        "customers": ("view", "add", "change", "delete"),
        "catalog": ("view", "add", "change", "delete"),
        "orders": ("view", "add", "change", "delete"),
        "fleet": ("view", "add", "change", "delete"),
        "erp_sync": ("view", "add", "change", "delete"),
        **dict.fromkeys(ERP_PLATFORM_MODELS, ("view", "add", "change", "delete")),
        "auth": ("view", "add", "change"),
        "oms": ("view",),
        # Lift sign-in lockouts, and reset a lost second factor by deleting the user's devices.
        "axes.accessattempt": ("view", "delete"),
        "axes.accesslog": ("view",),
        "otp_totp": ("view", "delete"),
        "otp_static": ("view", "delete"),
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
    ),
}


def sync_roles(group_model, permission_model) -> None:
    """Create the role groups and give each exactly the permissions of its definition."""
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for scope, actions in ROLE_PERMISSIONS[role].items():
            app_label, _, model = scope.partition(".")
            for action in actions:
                found = permission_model.objects.filter(
                    content_type__app_label=app_label, codename__startswith=f"{action}_"
                )
                wanted.extend(found.filter(content_type__model=model) if model else found)
        for dotted in ROLE_EXTRA.get(role, ()):
            app_label, codename = dotted.split(".", 1)
            wanted.extend(
                permission_model.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender, **kwargs) -> None:
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group, Permission

    for app_config in global_apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=kwargs.get("using", "default"))
    sync_roles(Group, Permission)
