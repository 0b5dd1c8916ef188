"""`lifecycle_chart [--check]`: rewrite (or check) the generated transition tables of docs/lifecycle.md."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from fleet.lifecycle_chart import CHART, rewrite


class Command(BaseCommand):
    help = "Rewrite the transition tables of docs/lifecycle.md from the code's maps (--check: only compare)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true")

    def handle(self, *args, check=False, **options):
        text = CHART.read_text()
        wanted = rewrite(text)
        if check:
            if wanted != text:
                raise CommandError("docs/lifecycle.md is stale: run `python manage.py lifecycle_chart`.")
            self.stdout.write("lifecycle_chart: docs/lifecycle.md is up to date")
            return
        CHART.write_text(wanted)
        self.stdout.write("lifecycle_chart: wrote docs/lifecycle.md")
