"""Thin out old GPS points: keep one point per truck per bucket (default 5 min) older than N days."""

from __future__ import annotations

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from fleet.models import PositionReport, Truck


class Command(BaseCommand):
    help = (
        "Compact PositionReport rows older than --days: keep the first point per truck and bucket "
        "(--keep-every minutes), delete the rest; --delete removes all of them. Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--keep-every", type=int, default=5, help="bucket size in minutes (default 5)")
        parser.add_argument("--delete", action="store_true", help="delete old points instead of compacting")

    def handle(self, *args, days: int, keep_every: int, delete: bool, **options):
        if days < 0 or keep_every < 1:
            self.stderr.write("--days must be >= 0 and --keep-every >= 1")
            return
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        # One truck per transaction: short locks, and the (truck, -at) index serves every statement.
        for truck_id in Truck.objects.values_list("pk", flat=True).order_by("pk"):
            with transaction.atomic():
                if delete:
                    deleted += PositionReport.objects.filter(truck_id=truck_id, at__lt=cutoff).delete()[0]
                else:
                    deleted += self._compact(truck_id, cutoff, keep_every * 60)
        mode = "deleted" if delete else "compacted"
        self.stdout.write(f"positions_compact: {mode} {deleted} points older than {days} days")

    def _compact(self, truck_id: int, cutoff, bucket_seconds: int) -> int:
        table = connection.ops.quote_name(PositionReport._meta.db_table)
        if connection.vendor == "postgresql":
            bucket = "floor(extract(epoch from at) / %s)"
        else:
            bucket = "CAST(strftime('%%s', at) AS INTEGER) / %s"
        sql = (
            f"DELETE FROM {table} WHERE id IN ("  # noqa: S608 - quoted table name only
            f"  SELECT id FROM ("
            f"    SELECT id, row_number() OVER (PARTITION BY {bucket} ORDER BY at, id) AS rn"
            f"    FROM {table} WHERE truck_id = %s AND at < %s"
            f"  ) ranked WHERE rn > 1)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [bucket_seconds, truck_id, cutoff])
            return cursor.rowcount
