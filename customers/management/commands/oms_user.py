"""`oms_user EMAIL --role customer|rep|dispatcher|admin [--customer NUMBER] [--password-env VAR | --password-stdin]`."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from oms import roles
from oms.lib.cli import add_secret_arguments, read_secret


class Command(BaseCommand):
    help = "Create or update a login with one role (idempotent)."
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--role", required=True, choices=roles.ROLES)
        parser.add_argument("--customer", help="Customer number (C-…) for the customer role.")
        add_secret_arguments(parser, "password", "password")

    @transaction.atomic
    def handle(self, email, role, customer=None, **options):
        from customers.models import Customer, PortalAccess

        password = read_secret(self, options, "password")

        email = email.strip().lower()
        if "@" not in email:
            raise CommandError("EMAIL must be an email address.")
        if role == roles.CUSTOMER and not customer:
            raise CommandError("--customer is required for the customer role.")
        linked = None
        if customer:
            linked = Customer.objects.filter(number=customer.strip().upper()).first()
            if linked is None:
                raise CommandError(f"No customer {customer}.")
        User = get_user_model()
        user, created = User.objects.get_or_create(username=email, defaults={"email": email})
        changed = created
        staff = role in (roles.REP, roles.DISPATCHER, roles.ADMIN)
        if user.is_staff != staff or user.email != email:
            user.is_staff, user.email = staff, email
            changed = True
        if role == roles.ADMIN and not user.is_superuser:
            user.is_superuser = True
            changed = True
        if password and not user.check_password(password):
            user.set_password(password)
            changed = True
        elif created and not password:
            user.set_unusable_password()
        user.save()
        wanted = Group.objects.get(name=role)
        if list(user.groups.all()) != [wanted]:
            user.groups.set([wanted])
            changed = True
        if linked is not None:
            _, made = PortalAccess.objects.get_or_create(customer=linked, user=user)
            changed = changed or made
        verb = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(f"{verb} {email} role={role}" + (f" customer={linked.number}" if linked else ""))
