"""`erp_reconcile [--system CODE] [--days N]`: repair drift between orders, outbox and inbox."""

from django.core.management.base import BaseCommand, CommandError

from erp_sync.reconcile import erp_reconcile
from oms.models import ErpSystem


class Command(BaseCommand):
    help = "Reconcile recent orders with the ERP sync state (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--system")
        parser.add_argument("--days", type=int, default=2)

    def handle(self, *args, system, days, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        erp = None
        if system:
            erp = ErpSystem.objects.filter(code=system).first()
            if erp is None:
                raise CommandError(f"Unknown ERP system {system!r}.")
        counts = erp_reconcile(system=erp, days=days)
        self.stdout.write("reconciled: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
