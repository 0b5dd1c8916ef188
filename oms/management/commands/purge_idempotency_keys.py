"""`purge_idempotency_keys [--days N]`: delete stored idempotent responses past their retention."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from oms.lib.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete idempotency records older than the retention (OMS_IDEMPOTENCY_RETENTION_DAYS, 7 days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep this many days instead of the setting.")

    def handle(self, days=None, **options):
        keep = settings.OMS_IDEMPOTENCY_RETENTION_DAYS if days is None else days
        if keep < 7:
            raise CommandError("The API contract keeps idempotency keys at least 7 days.")
        deleted = purge_expired(days=keep)
        self.stdout.write(f"purged {deleted} idempotency records older than {keep} days")
