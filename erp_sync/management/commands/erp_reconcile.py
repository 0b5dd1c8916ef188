"""`erp_reconcile [--system CODE] [--days N] [--compare]`: repair drift between orders, outbox and
inbox; with `--compare`, compare the orders with what the ERP believes instead (added in 0.2)."""

from django.core.management.base import BaseCommand, CommandError

from erp_sync.reconcile import COMPARE_DAYS, erp_compare, erp_reconcile, systems_to_compare
from oms.models import ErpSystem

REPAIR_DAYS = 2


class Command(BaseCommand):
    help = (
        "Reconcile recent orders with the ERP sync state (idempotent). With --compare: ask the ERP "
        "for its view of the recent orders and record the differences as drifts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--system")
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"Orders of the last N days (default {REPAIR_DAYS}; with --compare {COMPARE_DAYS}).",
        )
        parser.add_argument(
            "--compare",
            action="store_true",
            help="Run the comparison with the ERP now (one line per ERP) instead of the repair.",
        )

    def handle(self, *args, system, days, compare, **options):
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        erp = None
        if system:
            erp = ErpSystem.objects.filter(code=system).first()
            if erp is None:
                raise CommandError(f"Unknown ERP system {system!r}.")
        if compare:
            self._compare(erp, days)
            return
        counts = erp_reconcile(system=erp, days=days or REPAIR_DAYS)
        self.stdout.write("reconciled: " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    def _compare(self, erp: ErpSystem | None, days: int | None) -> None:
        results = [erp_compare(system=s, days=days) for s in ([erp] if erp else systems_to_compare())]
        for result in results:
            self.stdout.write(result.line())
        failed = [r.system for r in results if r.outcome == "failed"]
        if failed:
            raise CommandError(f"The comparison failed for {', '.join(failed)}.")
