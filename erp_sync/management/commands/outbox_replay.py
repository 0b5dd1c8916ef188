"""`outbox_replay --id UUID | --aggregate order:ORD-… | job:TICKET | tour:NUMBER`: dead → pending."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from erp_sync.services import outbox_replay

AGGREGATE_TYPES = ("order", "job", "tour")


class Command(BaseCommand):
    help = "Put dead outbox messages back to pending, in sequence order."

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--id")
        group.add_argument("--aggregate", help="order:ORD-… | job:TICKET | tour:NUMBER")

    def handle(self, *args, id, aggregate, **options):
        if id:
            try:
                ident = str(uuid.UUID(id))
            except ValueError as exc:
                raise CommandError(f"--id must be a UUID, got {id!r}.") from exc
            count = outbox_replay(ids=[ident])
        else:
            kind, _, key = aggregate.partition(":")
            if kind not in AGGREGATE_TYPES or not key:
                raise CommandError("--aggregate must look like order:ORD-…, job:TICKET or tour:NUMBER.")
            count = outbox_replay(aggregate=(kind, key))
        self.stdout.write(f"replayed {count} message{'s' if count != 1 else ''}")
