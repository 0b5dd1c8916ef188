"""`migrate` on a database made by the 0.1 layout: a clear message, no traceback, nothing changed."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder


@pytest.mark.django_db
def test_migrate_refuses_a_database_of_the_old_layout_with_what_to_do():
    recorder = MigrationRecorder(connection)
    recorder.record_applied("orders", "0002_order_loading_started")
    before = sorted(recorder.applied_migrations())

    with pytest.raises(CommandError) as raised:
        call_command("migrate", "--no-input", verbosity=0)

    message = str(raised.value)
    assert "orders.0002_order_loading_started" in message
    assert "delete the var/ folder" in message and "drop and recreate the database" in message
    assert sorted(recorder.applied_migrations()) == before


@pytest.mark.django_db
def test_migrate_runs_on_a_database_of_this_layout():
    call_command("migrate", "--no-input", verbosity=0)  # nothing to do, no error

    assert ("catalog", "0001_initial") in MigrationRecorder(connection).applied_migrations()
