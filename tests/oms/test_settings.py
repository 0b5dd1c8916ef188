"""Production refuses to start with unsafe settings, and passes `check --deploy` when configured."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Settings that the variables of .env.example decide (a few derived ones included).
SETTINGS_COMPARED = [
    "ENVIRONMENT",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "SITE_URL",
    "OMS_DISPLAY_TIME_ZONE",
    "DATABASES",
    "CELERY_BROKER_URL",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_TASK_SOFT_TIME_LIMIT",
    "CELERY_TASK_TIME_LIMIT",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "OMS_BEAT_LEASE_SECONDS",
    "CACHES",
    "MAILERS",
    "DEFAULT_FROM_EMAIL",
    "MAP_TILE_URL",
    "SECURE_CSP",
    "OMS_ORDER_RATE_PER_MINUTE",
    "OMS_IDEMPOTENCY_RETENTION_DAYS",
    "OMS_IDEMPOTENCY_STALE_SECONDS",
    "OMS_ERP_WEBHOOK_MAX_BYTES",
    "OMS_ERP_WEBHOOK_TOLERANCE_SECONDS",
    "OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP",
    "OMS_WRITES_PER_USER_PER_MINUTE",
    "OMS_WRITES_PER_ORDER_PER_MINUTE",
    "OMS_CUSTOMER_API_RATE_PER_MINUTE",
    "LOG_LEVEL",
    "MEDIA_ROOT",
]
GOOD_SECRET = "k3Jx9-vQ2mZp7Lw4Rt8Yb1Nc6Hd0Gf5Sa2Ue9Io3Pq7Wr4Ty8Ui1Op6As5Df"


@pytest.fixture
def production_env(tmp_path):
    """A minimal production environment: no secret, nothing inherited but PATH."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "DJANGO_ENV": "production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "OMS_VAR_DIR": str(tmp_path / "var"),
    }


def run_python(env, *args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def setup_django(env):
    return run_python(env, "-c", "import django; django.setup()")


def test_production_refuses_to_start_without_a_secret_key(production_env):
    result = setup_django(production_env)

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_a_short_secret_key(production_env):
    result = setup_django({**production_env, "DJANGO_SECRET_KEY": "x" * 49, "DJANGO_DEBUG": "0"})

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_with_debug_on(production_env):
    assert len(GOOD_SECRET) == 60

    result = setup_django({**production_env, "DJANGO_SECRET_KEY": GOOD_SECRET, "DJANGO_DEBUG": "1"})

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_DEBUG must be off in production." in result.stderr


def test_production_refuses_a_malformed_boolean(production_env):
    result = setup_django({**production_env, "DJANGO_SECRET_KEY": GOOD_SECRET, "DJANGO_DEBUG": "maybe"})

    assert result.returncode != 0
    assert "ImproperlyConfigured: DJANGO_DEBUG must be a boolean" in result.stderr


def test_production_debug_is_off_by_default(production_env):
    env = {**production_env, "DJANGO_SECRET_KEY": GOOD_SECRET}

    result = run_python(
        env, "-c", "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_configured_production_passes_the_deployment_checks(production_env):
    env = {
        **production_env,
        "DJANGO_SECRET_KEY": GOOD_SECRET,
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "oms.example",
        # Django's deploy check refuses the console mailer: production sends real mail.
        "EMAIL_URL": "smtp+tls://oms:secret@mail.oms.example:587",
    }

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_env_example_lists_every_variable_the_settings_read():
    source = (ROOT / "oms" / "settings.py").read_text()
    read = set(re.findall(r"env_(?:str|int|bool|list)\(\s*\"([A-Z0-9_]+)\"", source))
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_<>]+)=", (ROOT / ".env.example").read_text(), re.M))

    assert len(read) >= 25
    assert read - listed == set()
    assert {"ERP_<CODE>_TOKEN", "ERP_<CODE>_SECRET"} <= listed


def test_env_example_as_written_keeps_the_defaults(tmp_path):
    example = (ROOT / ".env.example").read_text()
    assigned = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", example, re.M))
    names = sorted(n for n in assigned if n not in {"PORT", "WEB_CONCURRENCY", "WORKER_CONCURRENCY"})
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: repr(getattr(s, n)) for n in {SETTINGS_COMPARED!r}}}))"
    )
    base = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        "OMS_VAR_DIR": str(tmp_path),
    }

    defaults = run_python(base, "-c", script)
    from_example = run_python({**base, **{n: assigned[n] for n in names}}, "-c", script)

    assert defaults.returncode == 0, defaults.stderr
    assert from_example.returncode == 0, from_example.stderr
    assert json.loads(from_example.stdout) == json.loads(defaults.stdout)
