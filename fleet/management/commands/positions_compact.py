"""Thin out old GPS points: keep one point per truck per bucket (default 5 min) older than N days."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from fleet.services import positions_compact


class Command(BaseCommand):
    help = (
        "Compact PositionReport rows older than --days: keep the first point per truck and bucket "
        "(--keep-every minutes), delete the rest; --delete removes all of them. Idempotent. "
        "The beat runs the same compaction daily (OMS_POSITIONS_COMPACT_DAYS)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, required=True)
        parser.add_argument("--keep-every", type=int, default=5, help="bucket size in minutes (default 5)")
        parser.add_argument("--delete", action="store_true", help="delete old points instead of compacting")

    def handle(self, *args, days: int, keep_every: int, delete: bool, **options):
        if days < 0 or keep_every < 1:
            self.stderr.write("--days must be >= 0 and --keep-every >= 1")
            return
        removed = positions_compact(days=days, keep_every_minutes=keep_every, delete=delete)
        mode = "deleted" if delete else "compacted"
        self.stdout.write(f"positions_compact: {mode} {removed} points older than {days} days")
