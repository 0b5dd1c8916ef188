"""Helpers shared by the test packages."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

# --- management commands ----------------------------------------------------------------------------


def run_command(*args) -> str:
    """What `manage.py <args>` prints."""
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()
