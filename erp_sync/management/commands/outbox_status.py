"""`outbox_status [--json]`: per ERP system pending, dead and the oldest pending age."""

import json

from django.core.management.base import BaseCommand

from erp_sync.selectors import dead_messages, outbox_backlog


class Command(BaseCommand):
    help = "Outbox backlog per ERP system; --json adds every dead message."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, as_json, **options):
        backlog = outbox_backlog()
        if as_json:
            dead = [
                {
                    "id": str(m.id),
                    "system": m.system.code if m.system else None,
                    "type": m.type,
                    "aggregate": f"{m.aggregate_type}:{m.aggregate_id}",
                    "status": m.status,
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                }
                for m in dead_messages()
            ]
            self.stdout.write(json.dumps({"systems": backlog, "dead": dead}, separators=(",", ":")))
            return
        if not backlog:
            self.stdout.write("no ERP systems")
            return
        parts = []
        for row in backlog:
            age = row["oldest_pending_age_seconds"]
            parts.append(
                f"{row['system'] or '(unrouted)'}: pending={row['pending']} dead={row['dead']} "
                f"oldest_pending_age={'-' if age is None else f'{age:.0f}s'}"
            )
        self.stdout.write("; ".join(parts))
