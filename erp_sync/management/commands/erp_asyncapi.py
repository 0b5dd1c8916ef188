"""`erp_asyncapi [--output PATH] [--guide PATH] [--check]`: regenerate the ERP contract documents."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from erp_sync import asyncapi


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


class Command(BaseCommand):
    help = (
        "Write the AsyncAPI document of the ERP messages (docs/asyncapi.yaml) and the generated tables "
        "of docs/erp-integration.md from the JSON Schemas in erp_sync/schemas/."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(asyncapi.ASYNCAPI_PATH), help="YAML file to write.")
        parser.add_argument(
            "--guide", default=str(asyncapi.GUIDE_PATH), help="Guide whose generated sections to rewrite."
        )
        parser.add_argument(
            "--check", action="store_true", help="Write nothing; fail when a file is not up to date."
        )

    def handle(self, *args, output: str, guide: str, check: bool, **options):
        document = asyncapi.dump_yaml(asyncapi.build_document())
        guide_path = Path(guide)
        try:
            current_guide = guide_path.read_text(encoding="utf-8")
            new_guide = asyncapi.rewrite_guide(current_guide)
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        output_path = Path(output)
        current_document = output_path.read_text(encoding="utf-8") if output_path.exists() else None
        stale = [
            _display(path)
            for path, old, new in (
                (output_path, current_document, document),
                (guide_path, current_guide, new_guide),
            )
            if old != new
        ]
        if check:
            if stale:
                raise CommandError(f"not up to date: {', '.join(stale)} (run {asyncapi.REGENERATE})")
            self.stdout.write("erp_asyncapi: up to date")
            return
        if current_document != document:
            output_path.write_text(document, encoding="utf-8")
        if current_guide != new_guide:
            guide_path.write_text(new_guide, encoding="utf-8")
        count = len(asyncapi.message_types())
        changed = ", ".join(stale) if stale else "nothing changed"
        self.stdout.write(f"erp_asyncapi: {count} message types; wrote {changed}")
