"""`customer_export <customer> --output file.zip`: everything held about a customer, as an archive."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from customers.privacy import customer_by_reference
from fleet.privacy import customer_export_archive
from oms.exceptions import DomainError


class Command(BaseCommand):
    help = (
        "Export everything held about a customer contact (customer, sites, orders with lines, timeline, "
        "messages, call requests, proofs of delivery with their files, sign-in history) as a zip of JSON "
        "files with a manifest (docs/privacy.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer", help="The customer: database id, number C-… or public id.")
        parser.add_argument("--output", required=True, help="The zip file to write (refused if it exists).")

    def handle(self, *args, customer, output, **options):
        try:
            found = customer_by_reference(customer)
        except DomainError as error:
            raise CommandError(f"{customer}: {error.detail}") from error
        path = Path(output)
        if path.exists():
            raise CommandError(f"{output} exists already; choose a new file name.")
        if not path.parent.is_dir():
            raise CommandError(f"{path.parent} is not a directory.")
        try:
            with path.open("xb") as handle:
                manifest = customer_export_archive(customer=found, output=handle)
        except BaseException:
            path.unlink(missing_ok=True)  # no half-written archive left behind
            raise
        self.stdout.write(
            f"exported {found.number} to {output}: {json.dumps(manifest['counts'], sort_keys=True)}"
        )
