"""Staff accounts and groups in the admin, with no way up for anyone below a superuser
(docs/roles.md, "Staff accounts: no way up").

A non-superuser holding `auth.change_user` manages the accounts below them: never a superuser or
another admin, never their own roles or permissions, and they grant only roles (except `admin`) and
permissions they hold themselves. `is_superuser` and `is_staff` are a superuser's to set; for
everyone else staff status follows the staff roles.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from oms import roles

User = get_user_model()
SUPERUSER_FIELDS = ("is_superuser", "is_staff")
ACCESS_FIELDS = ("groups", "user_permissions")
STAFF_ROLES = (roles.REP, roles.DISPATCHER, roles.ADMIN)


def grantable_permissions(editor):
    """The permissions `editor` may hand out: all for a superuser, else the ones they hold."""
    if editor.is_superuser:
        return Permission.objects.all()
    held = Q(pk__in=[])
    for name in editor.get_all_permissions():
        app_label, codename = name.split(".", 1)
        held |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(held)


def grantable_groups(editor):
    """The roles `editor` may hand out: all for a superuser; else those whose every permission they
    hold, except `admin` (making another admin is a superuser's decision)."""
    if editor.is_superuser:
        return Group.objects.all()
    beyond = Permission.objects.exclude(pk__in=grantable_permissions(editor))
    return Group.objects.exclude(name=roles.ADMIN).exclude(permissions__in=beyond)


def may_manage(editor, user) -> bool:
    """Whether `editor` may change `user`: a superuser anyone; others no superuser, but themselves
    and any account whose roles and permissions they could have granted (so no other admin)."""
    if editor.is_superuser:
        return True
    if user.is_superuser:
        return False
    if user.pk == editor.pk:
        return True
    return (
        not user.groups.exclude(pk__in=grantable_groups(editor)).exists()
        and not user.user_permissions.exclude(pk__in=grantable_permissions(editor)).exists()
    )


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(UserAdmin):
    def has_change_permission(self, request, obj=None):
        # Also guards the password form (`user_change_password` asks this for the account).
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_manage(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or (obj.pk != request.user.pk and may_manage(request.user, obj)))

    def locked_fields(self, request, obj) -> tuple[str, ...]:
        """Fields the editor may not set on `obj` (shown read-only, refused when sent anyway)."""
        if request.user.is_superuser:
            return ()
        own = obj is not None and obj.pk == request.user.pk
        return SUPERUSER_FIELDS + (ACCESS_FIELDS if own else ())

    def get_readonly_fields(self, request, obj=None):
        return (*super().get_readonly_fields(request, obj), *self.locked_fields(request, obj))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["queryset"] = grantable_groups(request.user)
        elif db_field.name == "user_permissions":
            kwargs["queryset"] = grantable_permissions(request.user).select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        """A form that sends a field the editor may not set is refused, not quietly trimmed."""
        if request.method == "POST" and not request.user.is_superuser:
            obj = self.get_object(request, object_id) if object_id else None
            if any(name in request.POST for name in self.locked_fields(request, obj)):
                raise PermissionDenied
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        """After a non-superuser's save, staff status follows the staff roles."""
        super().save_related(request, form, formsets, change)
        user = form.instance
        if not request.user.is_superuser and not user.is_superuser:
            is_staff = user.groups.filter(name__in=STAFF_ROLES).exists()
            if user.is_staff != is_staff:
                User.objects.filter(pk=user.pk).update(is_staff=is_staff)
                user.is_staff = is_staff


admin.site.unregister(Group)


@admin.register(Group)
class RoleGroupAdmin(GroupAdmin):
    """Roles and their permissions are defined in code (`oms.roles`): only a superuser edits them here."""

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else (*readonly, "name", "permissions")
