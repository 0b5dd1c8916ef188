"""The stock allocation's path for every database but PostgreSQL, tested on SQLite, the embedded
default of `make run`. This suite runs on PostgreSQL, where that path never runs, so the checks in
sqlite_stock_checks.py run in a pytest of their own with DATABASE_URL=sqlite:///… (no database here:
the test runs after the database tests)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings


def test_the_fallback_allocation_holds_on_sqlite(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "DATABASE_URL")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'oms.sqlite3'}"
    checks = Path(__file__).with_name("sqlite_stock_checks.py")

    done = subprocess.run(  # noqa: S603 - our own pytest
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(checks)],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1].startswith("4 passed")
