"""The systemd units in deploy/systemd/ pass `systemd-analyze verify` without a single warning, and
their numbers agree with the settings they depend on (queues, time limits)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from oms.celery import QUEUES, TASK_QUEUES

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
# The documented install layout: the units name its virtualenv's binaries.
INSTALL_VENV = "/srv/oms/venv"
# This test's virtualenv, where gunicorn and celery really are (`.venv` may be a link: resolved).
TEST_VENV = Path(sys.executable).parent.parent.resolve()


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    subprocess.run(["bash", str(ROOT / "scripts" / "ensure-systemd-analyze.sh")], check=True)
    return "systemd-analyze"


def render(directory: Path, replace: dict[str, str] | None = None) -> Path:
    """The committed units with only the virtualenv path moved to this test's own, so that verify
    checks that the very binaries the units start exist and are executable."""
    directory.mkdir(parents=True, exist_ok=True)
    for unit in UNITS.iterdir():
        text = unit.read_text().replace(INSTALL_VENV, str(TEST_VENV))
        for old, new in (replace or {}).items():
            text = text.replace(old, new)
        (directory / unit.name).write_text(text)
    return directory


def verify(analyze: str, directory: Path, unit: str) -> list[str]:
    """Every line `systemd-analyze verify` prints about `unit` (any line is a finding)."""
    done = subprocess.run(
        [analyze, "verify", "--man=no", str(directory / unit)], capture_output=True, text=True, timeout=60
    )
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    if done.returncode != 0 and not lines:
        lines = [f"exit status {done.returncode}"]
    return lines


def directives(unit: str) -> dict[str, list[str]]:
    """Key → values of a unit file (continuation lines joined)."""
    text = (UNITS / unit).read_text().replace("\\\n", " ")
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if match:
            found.setdefault(match[1], []).append(re.sub(r"\s+", " ", match[2]).strip())
    return found


INSTANCES = [
    "oms-web.service",
    *(f"oms-worker@{queue}.service" for queue in QUEUES),
    "oms-beat.service",
    "oms.target",
]


@pytest.mark.parametrize("unit", INSTANCES)
def test_every_unit_passes_systemd_analyze_verify_without_a_warning(systemd_analyze, tmp_path, unit):
    assert verify(systemd_analyze, render(tmp_path / "units"), unit) == []


def test_verify_does_report_a_broken_unit(systemd_analyze, tmp_path):
    # The check above would be worthless if verify stayed silent: a misspelt key and a binary that
    # does not exist are both reported.
    units = render(
        tmp_path / "units", {"TimeoutStopSec=45": "TimeoutStopSecs=45", "bin/celery": "bin/celeryx"}
    )

    web = verify(systemd_analyze, units, "oms-web.service")
    worker = verify(systemd_analyze, units, "oms-worker@erp.service")

    assert any("Unknown key 'TimeoutStopSecs' in section [Service], ignoring." in line for line in web), web
    assert any(f"Command {TEST_VENV}/bin/celeryx is not executable" in line for line in worker), worker


def test_the_units_start_the_documented_commands():
    web = directives("oms-web.service")
    worker = directives("oms-worker@.service")
    beat = directives("oms-beat.service")

    assert web["ExecStart"] == [
        f"{INSTALL_VENV}/bin/gunicorn oms.wsgi:application --bind 0.0.0.0:8000 --workers 4"
        " --timeout 60 --graceful-timeout 30"
    ]
    assert worker["ExecStart"] == [
        f"{INSTALL_VENV}/bin/celery -A oms worker -Q %i -n %i@%H"
        " --concurrency ${OMS_WORKER_CONCURRENCY} --loglevel INFO"
    ]
    assert beat["ExecStart"] == [
        f"{INSTALL_VENV}/bin/celery -A oms beat --loglevel INFO --schedule /srv/oms/var/celerybeat-schedule"
    ]
    # One instance per queue that tasks are routed to: the instance name is the queue.
    assert set(TASK_QUEUES.values()) | {"default"} == set(QUEUES) == {"erp", "files", "default"}


@pytest.mark.parametrize("unit", ["oms-web.service", "oms-worker@.service", "oms-beat.service"])
def test_every_process_unit_is_hardened_and_restarted(unit):
    found = directives(unit)

    assert found["User"] == ["oms"]
    assert found["EnvironmentFile"][0] == "/etc/oms/oms.env"
    assert found["NoNewPrivileges"] == ["true"]
    assert found["ProtectSystem"] == ["strict"]
    assert found["PrivateTmp"] == ["true"]
    assert "/srv/oms/var" in found["ReadWritePaths"][0].split()
    assert found["KillMode"] == ["mixed"]
    assert found["Restart"][0] in {"on-failure", "always"}


def test_a_worker_is_given_time_to_finish_the_longest_task_before_it_is_killed():
    stop = int(directives("oms-worker@.service")["TimeoutStopSec"][0])

    # A warm shutdown lets the running tasks finish; the longest is stopped by its own hard limit.
    assert settings.OMS_LONG_TASK_TIME_LIMIT - 100 < settings.OMS_LONG_TASK_TIME_LIMIT < stop
    assert stop == 1960


def test_web_and_workers_start_after_the_metrics_directory_is_emptied():
    for unit in ("oms-web.service", "oms-worker@.service"):
        found = directives(unit)
        assert found["Requires"] == ["oms-metrics-dir.service"]
        assert "oms-metrics-dir.service" in found["After"][0].split()


def test_the_metrics_directory_is_emptied_where_the_app_writes_it(tmp_path):
    # The shell command of the unit, run as systemd would run it (`$$` is a literal `$`), on a
    # directory with a stale file of a dead process and a file that is not the app's.
    command = directives("oms-metrics-dir.service")["ExecStart"][0]
    script = re.fullmatch(r"/bin/sh -c '(.*)'", command)[1].replace("$$", "$")
    metrics = tmp_path / "var" / "prometheus"
    metrics.mkdir(parents=True)
    (metrics / "counter_4242.db").write_bytes(b"stale")
    (metrics / "README").write_text("kept")

    subprocess.run(["sh", "-c", script], env={"OMS_VAR_DIR": str(tmp_path / "var")}, check=True)

    assert sorted(p.name for p in metrics.iterdir()) == ["README"]
    fresh = tmp_path / "elsewhere"
    subprocess.run(["sh", "-c", script], env={"PROMETHEUS_MULTIPROC_DIR": str(fresh)}, check=True)
    assert fresh.is_dir()


def test_gunicorn_finishes_its_requests_before_systemd_kills_it():
    web = directives("oms-web.service")
    graceful = int(re.search(r"--graceful-timeout (\d+)", web["ExecStart"][0])[1])

    assert graceful < int(web["TimeoutStopSec"][0])
