"""`migrate`, refusing with a clear message a database made by the 0.1 layout.

0.2 rebuilt the migration history for the new app layout (see CHANGELOG.md). A database that recorded
migrations which no longer exist cannot be upgraded in place; Django would fail with a traceback about
an inconsistent history, so this command says what to do instead.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

PROJECT_APPS = ("oms", "catalog", "customers", "orders", "fleet", "erp_sync", "portal", "console")

OLD_LAYOUT = (
    "This database was created by an older layout of the OMS (it records the migrations {names}, which "
    "no longer exist). Version 0.2 rebuilt the migration history, so the database must be recreated: "
    "for the embedded default stop the system and delete the var/ folder (or just var/oms.sqlite3); on "
    "PostgreSQL drop and recreate the database. Then run the command again. See CHANGELOG.md."
)


def unknown_applied_migrations(connection) -> list[tuple[str, str]]:
    """Migrations of this project recorded as applied in the database but absent from the code."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    on_disk = set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)
    return sorted(
        key for key in recorder.applied_migrations() if key[0] in PROJECT_APPS and key not in on_disk
    )


class Command(DjangoMigrate):
    def handle(self, *args, **options):
        unknown = unknown_applied_migrations(connections[options["database"]])
        if unknown:
            names = ", ".join(f"{app}.{name}" for app, name in unknown[:4]) + (
                " …" if len(unknown) > 4 else ""
            )
            raise CommandError(OLD_LAYOUT.format(names=names))
        return super().handle(*args, **options)
