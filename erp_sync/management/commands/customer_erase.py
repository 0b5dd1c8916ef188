"""`customer_erase <customer> [--force] [--by NAME]`: erase a customer contact's personal data."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from customers.privacy import customer_by_reference
from erp_sync.privacy import customer_erase
from oms.exceptions import DomainError
from oms.lib.actors import Actor


class Command(BaseCommand):
    help = (
        "Erase a customer contact's personal data everywhere (orders and money stay) and tell every ERP "
        "with a customer.erased message (docs/privacy.md). A second run changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer", help="The customer: database id, number C-… or public id.")
        parser.add_argument(
            "--force", action="store_true", help="Erase even while the customer has orders in progress."
        )
        parser.add_argument(
            "--by",
            default="",
            help="Who asked for it (recorded on the erasure; no personal data of the customer).",
        )

    def handle(self, *args, customer, force, by, **options):
        try:
            found = customer_by_reference(customer)
            actor = Actor(kind="system", name=by.strip() or "manage.py customer_erase")
            result = customer_erase(customer=found, actor=actor, force=force)
        except DomainError as error:
            raise CommandError(f"{customer}: {error.detail}") from error
        erasure = result.erasure
        if result.already_erased:
            self.stdout.write(
                f"{erasure.customer_number} was erased already on {erasure.at:%Y-%m-%d %H:%M} UTC "
                f"by {erasure.requested_by}; nothing changed."
            )
            return
        self.stdout.write(
            f"erased {erasure.customer_number}{' (forced)' if erasure.forced else ''}: "
            f"{json.dumps(erasure.counts, sort_keys=True)}"
        )
