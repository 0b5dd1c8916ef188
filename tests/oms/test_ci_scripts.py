"""The test entry points refuse to run without PostgreSQL instead of skipping what needs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ensure_services_fails_loudly_when_postgres_cannot_be_reached():
    # Port 1 never has a PostgreSQL: the script tries to start the local cluster, re-checks, and fails.
    env = {**os.environ, "PGHOST": "127.0.0.1", "PGPORT": "1"}

    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-services.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert (
        "ERROR: PostgreSQL is required for the test suite and is not reachable on 127.0.0.1:1."
        in result.stderr
    )


def test_ensure_services_passes_when_postgres_redis_and_rabbitmq_answer():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "ensure-services.sh")], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("PostgreSQL, Redis and RabbitMQ are up.")


def test_ci_entry_point_runs_make_test():
    script = (ROOT / ".ci" / "run").read_text()

    assert "make test" in script.splitlines()[-1]
    assert "CI=true" in script


def test_ci_refuses_a_suite_that_is_not_on_postgres(tmp_path):
    env = {
        **os.environ,
        "CI": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "OMS_VAR_DIR": str(tmp_path / "var"),
    }

    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pytest"), "tests/oms/test_logging.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode != 0
    assert "CI=true requires the suite to run on PostgreSQL" in result.stdout + result.stderr
