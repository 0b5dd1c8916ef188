"""Production unless told otherwise: it refuses to start with unsafe settings and passes `check --deploy`
with the environment docs/operations.md documents."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import documented_production_env

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
    "OMS_CALLBACK_SLA_MINUTES",
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
    "OMS_LONG_TASK_TIME_LIMIT",
    "OMS_BROKER_ACK_TIMEOUT",
    "OMS_RETENTION_INBOX_DAYS",
    "OMS_RETENTION_OUTBOX_DAYS",
    "OMS_RETENTION_SYNC_RUNS_DAYS",
    "OMS_POSITIONS_COMPACT_DAYS",
    "OMS_RETENTION_BATCH_SIZE",
    "OMS_RETENTION_ARCHIVE_DIR",
    "LOG_FORMAT",
    "PROMETHEUS_MULTIPROC_DIR",
    "OMS_METRICS_TOKEN",
    "OMS_METRICS_ALLOWED_NETWORKS",
    "SENTRY_DSN",
]
DOCS_HINT = " See docs/operations.md#production-environment; on a workstation set DJANGO_ENV=development."


@pytest.fixture
def production_env(tmp_path):
    """The documented production environment, nothing inherited but PATH."""
    return {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "oms.settings",
        **documented_production_env(tmp_path),
    }


def run_python(env, *args):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def setup_django(env):
    return run_python(env, "-c", "import django; django.setup()")


def refusal(result) -> str:
    """The ImproperlyConfigured line a process that refused to start printed."""
    assert result.returncode != 0
    return next(line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions."))


def print_settings(env, *names):
    script = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n) for n in {list(names)!r}}}))"
    )
    result = run_python(env, "-c", script)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_documented_production_environment_passes_the_deployment_checks(tmp_path):
    env = {"PATH": os.environ["PATH"], **documented_production_env(tmp_path)}

    result = run_python(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"
    assert result.stderr == ""


def test_production_cookies_are_secure_http_only_and_same_site(production_env):
    names = ["SESSION_COOKIE", "CSRF_COOKIE", "LANGUAGE_COOKIE"]
    flags = [f"{n}_{flag}" for n in names for flag in ("SECURE", "HTTPONLY", "SAMESITE")]

    found = print_settings(production_env, *flags)

    assert found == {name: ("Lax" if name.endswith("SAMESITE") else True) for name in flags}


def test_production_requires_the_staff_second_factor_and_development_does_not(production_env):
    development = {**production_env, "DJANGO_ENV": "development"}

    assert print_settings(production_env, "OMS_STAFF_2FA_REQUIRED") == {"OMS_STAFF_2FA_REQUIRED": True}
    assert print_settings(development, "OMS_STAFF_2FA_REQUIRED") == {"OMS_STAFF_2FA_REQUIRED": False}


def test_a_forgotten_django_env_means_production_and_nothing_is_configured():
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "oms.settings"}

    assert refusal(setup_django(env)) == (
        "django.core.exceptions.ImproperlyConfigured: Production settings are incomplete "
        "(DJANGO_ENV is not set, which means production): "
        "DJANGO_SECRET_KEY must be set to a random value of 50+ characters. "
        "DJANGO_ALLOWED_HOSTS must be set to the host names of the site. "
        "OMS_SITE_URL must be set to the public https:// address of the site. "
        "OMS_TRUSTED_PROXY_COUNT must be set: the reverse proxies in front of the app (0 = none). "
        "REDIS_URL must be set: rate limits and the cache are shared through Redis. "
        "EMAIL_URL must be an smtp://, smtp+tls:// or smtps:// URL: other mailers send nothing. "
        "OMS_CREDENTIAL_KEYS must be set: the Fernet keys of the stored ERP credentials." + DOCS_HINT
    )


def test_a_forgotten_django_env_never_means_debug_nor_media_served_by_django(production_env):
    env = {k: v for k, v in production_env.items() if k != "DJANGO_ENV"}
    script = (
        "import django; django.setup(); from django.conf import settings; from django.urls import resolve, "
        "Resolver404\ntry:\n resolve('/media/epod/x.pdf'); print(settings.DEBUG, 'media served')\n"
        "except Resolver404:\n print(settings.DEBUG, 'media not served')"
    )

    result = run_python(env, "-c", script)

    assert result.returncode == 0, result.stderr
    assert result.stdout == "False media not served\n"


def test_development_still_serves_media(production_env):
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "oms.settings", "DJANGO_ENV": "development"}
    env["OMS_VAR_DIR"] = production_env["OMS_VAR_DIR"]
    script = "import django; django.setup(); from django.urls import resolve; print(resolve('/media/x.pdf').kwargs)"

    result = run_python(env, "-c", script)

    assert result.returncode == 0, result.stderr
    assert "'path': 'x.pdf'" in result.stdout


def test_an_unknown_django_env_is_refused(production_env):
    result = setup_django({**production_env, "DJANGO_ENV": "prod"})

    assert refusal(result) == (
        "django.core.exceptions.ImproperlyConfigured: DJANGO_ENV must be production, development or test, "
        "got 'prod'."
    )


MISSING = "django.core.exceptions.ImproperlyConfigured: Production settings are incomplete: "


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY must be set to a random value of 50+ characters."),
        (
            {"DJANGO_SECRET_KEY": "x" * 49},
            "DJANGO_SECRET_KEY must be set to a random value of 50+ characters.",
        ),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off in production."),
        ({"DJANGO_ALLOWED_HOSTS": None}, "DJANGO_ALLOWED_HOSTS must be set to the host names of the site."),
        ({"OMS_SITE_URL": None}, "OMS_SITE_URL must be set to the public https:// address of the site."),
        (
            {"OMS_SITE_URL": "http://oms.example.com"},
            "OMS_SITE_URL must be set to the public https:// address of the site.",
        ),
        (
            {"OMS_TRUSTED_PROXY_COUNT": None},
            "OMS_TRUSTED_PROXY_COUNT must be set: the reverse proxies in front of the app (0 = none).",
        ),
        ({"REDIS_URL": ""}, "REDIS_URL must be set: rate limits and the cache are shared through Redis."),
        (
            {"EMAIL_URL": "console://"},
            "EMAIL_URL must be an smtp://, smtp+tls:// or smtps:// URL: other mailers send nothing.",
        ),
        (
            {"EMAIL_URL": "locmem://"},
            "EMAIL_URL must be an smtp://, smtp+tls:// or smtps:// URL: other mailers send nothing.",
        ),
        (
            {"OMS_CREDENTIAL_KEYS": None},
            "OMS_CREDENTIAL_KEYS must be set: the Fernet keys of the stored ERP credentials.",
        ),
    ],
)
def test_production_refuses_to_start_without_what_it_needs(production_env, change, problem):
    env = {**production_env, **change}
    env = {name: value for name, value in env.items() if value is not None}

    assert refusal(setup_django(env)) == MISSING + problem + DOCS_HINT


def test_production_refuses_a_malformed_boolean(production_env):
    result = setup_django({**production_env, "DJANGO_DEBUG": "maybe"})

    assert "ImproperlyConfigured: DJANGO_DEBUG must be a boolean" in refusal(result)


def test_credential_keys_must_be_fernet_keys_in_every_environment(production_env):
    for environment in ("production", "development"):
        result = setup_django(
            {**production_env, "DJANGO_ENV": environment, "OMS_CREDENTIAL_KEYS": "not-a-key"}
        )

        assert refusal(result).startswith(
            "django.core.exceptions.ImproperlyConfigured: OMS_CREDENTIAL_KEYS must be comma-separated Fernet keys"
        )


def test_production_accepts_no_proxy_when_it_is_said_explicitly(production_env):
    found = print_settings(
        {**production_env, "OMS_TRUSTED_PROXY_COUNT": "0"}, "OMS_TRUSTED_PROXY_COUNT", "DEBUG"
    )

    assert found == {"OMS_TRUSTED_PROXY_COUNT": 0, "DEBUG": False}


REDIS_WARNING = "REDIS_URL is not set: the cache and the rate limits"


def test_a_development_web_process_without_redis_warns_once_that_limits_are_per_process(production_env):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_ENV": "development",
        "OMS_VAR_DIR": production_env["OMS_VAR_DIR"],
        "LOG_FORMAT": "json",  # development logs readable lines by default; JSON is easier to check
    }
    start_web = "import oms.wsgi"

    without = run_python(env, "-c", start_web)
    with_redis = run_python({**env, "REDIS_URL": "redis://127.0.0.1:6379/3"}, "-c", start_web)

    assert without.returncode == 0, without.stderr
    warnings = [json.loads(line) for line in without.stderr.splitlines() if REDIS_WARNING in line]
    assert [(w["level"], w["logger"]) for w in warnings] == [("WARNING", "oms.lib.redis")]
    assert with_redis.returncode == 0, with_redis.stderr
    assert with_redis.stderr == ""


def test_stored_files_stay_on_the_local_disk_unless_s3_is_chosen(production_env):
    found = print_settings(production_env, "OMS_STORAGE", "STORAGES")

    assert found["OMS_STORAGE"] == "local"
    assert found["STORAGES"]["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}


def test_s3_storage_is_a_private_bucket_with_short_signed_links(production_env):
    env = {
        **production_env,
        "OMS_STORAGE": "s3",
        "OMS_S3_BUCKET": "oms-files",
        "OMS_S3_ENDPOINT_URL": "https://objects.example.net",
        "OMS_S3_SIGNED_URL_SECONDS": "30",
    }

    found = print_settings(env, "STORAGES", "OMS_S3_SIGNED_URL_SECONDS")

    assert found["OMS_S3_SIGNED_URL_SECONDS"] == 30
    assert found["STORAGES"]["default"] == {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": "oms-files",
            "endpoint_url": "https://objects.example.net",
            "region_name": "us-east-1",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 30,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": "path",
        },
    }


def test_aws_s3_needs_no_endpoint_and_takes_its_region(production_env):
    env = {**production_env, "OMS_STORAGE": "S3", "OMS_S3_BUCKET": "b", "OMS_S3_REGION": "eu-central-1"}

    options = print_settings(env, "STORAGES")["STORAGES"]["default"]["OPTIONS"]

    assert (options["endpoint_url"], options["region_name"], options["addressing_style"]) == (
        None,
        "eu-central-1",
        None,
    )
    assert options["querystring_expire"] == 60


@pytest.mark.parametrize("environment", ["production", "development"])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"OMS_STORAGE": "s3"}, "OMS_STORAGE=s3 needs OMS_S3_BUCKET: the name of the (private) bucket."),
        (
            {"OMS_STORAGE": "s3", "OMS_S3_BUCKET": "  "},
            "OMS_STORAGE=s3 needs OMS_S3_BUCKET: the name of the (private) bucket.",
        ),
        ({"OMS_STORAGE": "ftp"}, "OMS_STORAGE must be local or s3, got 'ftp'."),
        (
            {"OMS_STORAGE": "s3", "OMS_S3_BUCKET": "b", "OMS_S3_SIGNED_URL_SECONDS": "0"},
            "OMS_S3_SIGNED_URL_SECONDS must be a positive number of seconds, got 0.",
        ),
    ],
)
def test_an_incomplete_object_store_configuration_is_refused(production_env, environment, change, message):
    result = setup_django({**production_env, "DJANGO_ENV": environment, **change})

    assert refusal(result) == "django.core.exceptions.ImproperlyConfigured: " + message
