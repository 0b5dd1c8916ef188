"""Settings for every environment, read from environment variables.

`.env.example` lists every variable. The environment is production unless `DJANGO_ENV` says
`development` or `test`: a forgotten variable never leaves debug mode or a known secret key on a
server. Production refuses to start until everything it needs is configured (the guards at the end,
the full environment in docs/operations.md). Development runs embedded with nothing configured:
SQLite in `var/` and a file-system Celery broker, so `make run` needs no server.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from oms.lib import crypto
from oms.lib.database import database_settings
from oms.lib.env import env_bool, env_int, env_is_set, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OMS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production below

ENVIRONMENTS = ("production", "development", "test")
ENVIRONMENT = env_str("DJANGO_ENV", "production")
if ENVIRONMENT not in ENVIRONMENTS:
    raise ImproperlyConfigured(f"DJANGO_ENV must be production, development or test, got {ENVIRONMENT!r}.")
PRODUCTION = ENVIRONMENT == "production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
# Earlier secret keys, still accepted for signatures (sessions, links) while a new key rolls out.
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS", [])
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
# The one base of absolute links (emails, tracking, EPOD): never taken from the request's Host header.
SITE_URL = env_str("OMS_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # The platform, then the domain apps from the bottom up, then the surfaces (docs/architecture.md).
    "oms",
    "catalog",
    "customers",
    "orders",
    "fleet",
    "erp_sync",
    "portal",
    "console",
]

MIDDLEWARE = [
    "oms.lib.requestid.RequestIdMiddleware",
    "oms.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages are gzipped (static files are WhiteNoise's: precompressed in production). BREACH: see
    # "Compression and caching" in docs/operations.md.
    "django.middleware.gzip.GZipMiddleware",
    "oms.lib.cache_control.PrivateCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "oms.lib.querystring.NulQueryStringMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "console.middleware.StaffAccessMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Last, so it sees the sign-in response first and answers a locked sign-in with 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'oms.sqlite3'}")
# `OMS_DB_POOLER=transaction` behind PgBouncer in transaction mode; a URL may list several hosts
# (`postgres://u@a:5432,b:5432/oms?target_session_attrs=read-write`) for failover: oms.lib.database.
OMS_DB_POOLER = env_str("OMS_DB_POOLER", "")
DATABASES = {
    "default": database_settings(
        DATABASE_URL,
        conn_max_age=env_int("DB_CONN_MAX_AGE", -1) if env_is_set("DB_CONN_MAX_AGE") else None,
        pooler=OMS_DB_POOLER,
        server_side_binding=env_bool("DB_SERVER_SIDE_BINDING", True),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes refuses a locked sign-in before any password hash is computed, then ModelBackend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/portal/login/"
LOGIN_REDIRECT_URL = "/portal/"
LOGOUT_REDIRECT_URL = "/portal/login/"
PASSWORD_RESET_TIMEOUT = env_int("OMS_PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
# Client IP for rate limits: REMOTE_ADDR, or the N-th address from the right of X-Forwarded-For when
# N reverse proxies we trust sit in front of the app (0 = never read X-Forwarded-For).
OMS_TRUSTED_PROXY_COUNT = env_int("OMS_TRUSTED_PROXY_COUNT", 0)
# Brute-force protection of every sign-in (admin site and portal), by django-axes: after this many
# wrong passwords within the window, the account is locked from every address, and so is the client
# IP for every account (password spraying). Lockouts are listed, and lifted, in the admin.
OMS_LOGIN_MAX_FAILURES = env_int("OMS_LOGIN_MAX_FAILURES", 5)
OMS_LOGIN_WINDOW_SECONDS = env_int("OMS_LOGIN_WINDOW_SECONDS", 15 * 60)
AXES_FAILURE_LIMIT = OMS_LOGIN_MAX_FAILURES
AXES_COOLOFF_TIME = timedelta(seconds=OMS_LOGIN_WINDOW_SECONDS)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "oms.lib.signin.client_ip"
AXES_USERNAME_CALLABLE = "oms.lib.signin.login_username"
AXES_LOCKOUT_CALLABLE = "oms.lib.signin.lockout_response"
AXES_RESET_ON_SUCCESS = False  # a valid account of one's own must not reset an IP's spraying count
AXES_VERBOSE = False
# Second factor (TOTP + one-time recovery codes) for staff: everyone who can enter the admin site
# (staff, superusers, the rep, dispatcher and admin roles). On by default in production only, so
# the demo staff sign in without it; staff may enrol voluntarily either way.
OMS_STAFF_2FA_REQUIRED = env_bool("OMS_STAFF_2FA_REQUIRED", PRODUCTION)
OTP_TOTP_ISSUER = env_str("OMS_OTP_ISSUER", "OMS")
OTP_TOTP_THROTTLE_FACTOR = 1  # seconds, doubled after each wrong code in a row
OTP_STATIC_THROTTLE_FACTOR = 1
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # the admin never shows a user's TOTP key or recovery codes
# Staff sessions end after this much inactivity, and at the latest this long after sign-in;
# customers keep Django's two-week session.
OMS_STAFF_SESSION_IDLE_SECONDS = env_int("OMS_STAFF_SESSION_IDLE_SECONDS", 30 * 60)
OMS_STAFF_SESSION_MAX_SECONDS = env_int("OMS_STAFF_SESSION_MAX_SECONDS", 12 * 3600)
# Sign-up and password-reset requests per IP (and per email address) per hour.
OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR = env_int("OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR", 5)
OMS_PORTAL_SIGNUP_MAX_AGE = env_int("OMS_PORTAL_SIGNUP_MAX_AGE", 2 * 24 * 3600)

# --- i18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("bg", _("Bulgarian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Bulgarian date-times as Bulgarians write them (07.12.2026 17:46), not Django's American fallback.
FORMAT_MODULE_PATH = ["oms.formats"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
OMS_DISPLAY_TIME_ZONE = env_str("OMS_DISPLAY_TIME_ZONE", "Europe/Sofia")
OMS_CURRENCY = "EUR"
# The console dashboard's call-back SLA: a call-back is answered in time when a rep starts the call
# within this many minutes of the request.
OMS_CALLBACK_SLA_MINUTES = env_int("OMS_CALLBACK_SLA_MINUTES", 15)

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("OMS_MEDIA_ROOT", str(VAR_DIR / "media")))
# Stored files (EPOD evidence and PDFs, order exports): the local disk at MEDIA_ROOT, or a private
# S3-compatible bucket that every web and worker host reads (docs/operations.md, "Stored files").
# Credentials come from boto3's own variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or its
# other sources (instance roles, ~/.aws), never from these settings.
OMS_STORAGE = env_str("OMS_STORAGE", "local").strip().lower() or "local"
OMS_S3_BUCKET = env_str("OMS_S3_BUCKET", "").strip()
OMS_S3_ENDPOINT_URL = env_str("OMS_S3_ENDPOINT_URL", "").strip()
OMS_S3_REGION = env_str("OMS_S3_REGION", "").strip() or "us-east-1"
# How long a download link to a stored file stays valid: the browser follows it at once.
OMS_S3_SIGNED_URL_SECONDS = env_int("OMS_S3_SIGNED_URL_SECONDS", 60)
if OMS_STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"OMS_STORAGE must be local or s3, got {OMS_STORAGE!r}.")
if OMS_STORAGE == "s3" and not OMS_S3_BUCKET:
    raise ImproperlyConfigured("OMS_STORAGE=s3 needs OMS_S3_BUCKET: the name of the (private) bucket.")
if OMS_S3_SIGNED_URL_SECONDS < 1:
    raise ImproperlyConfigured(
        f"OMS_S3_SIGNED_URL_SECONDS must be a positive number of seconds, got {OMS_S3_SIGNED_URL_SECONDS}."
    )


def s3_storage_options(
    *, bucket: str, endpoint_url: str = "", region: str = "us-east-1", signed_url_seconds: int = 60
) -> dict[str, object]:
    """The S3 backend's options: a private bucket, signed links only, never an overwritten file."""
    return {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url or None,
        "region_name": region,
        "default_acl": None,  # the bucket's own policy applies: private
        "querystring_auth": True,  # every URL is presigned …
        "querystring_expire": signed_url_seconds,  # … and short-lived
        "file_overwrite": False,  # a name taken gets a suffix, as on disk
        "signature_version": "s3v4",
        "addressing_style": "path" if endpoint_url else None,
    }


STORAGES = {
    "default": (
        {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": s3_storage_options(
                bucket=OMS_S3_BUCKET,
                endpoint_url=OMS_S3_ENDPOINT_URL,
                region=OMS_S3_REGION,
                signed_url_seconds=OMS_S3_SIGNED_URL_SECONDS,
            ),
        }
        if OMS_STORAGE == "s3"
        else {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    ),
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
# WhiteNoise caches the hashed names of the production manifest for ten years ("immutable"). A file
# under its plain name may change at any deploy (production: an hour) or edit (development: never).
WHITENOISE_MAX_AGE = 3600 if PRODUCTION else 0
MAP_TILE_URL = env_str("MAP_TILE_URL", "")

# --- Security --------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# No script reads a cookie: pages send the CSRF token from the form or the page, never the cookie.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Fernet keys of the stored ERP credentials, comma-separated: the first encrypts, all decrypt
# (erp_sync.secrets). Required in production; elsewhere a key derived from SECRET_KEY stands in.
OMS_CREDENTIAL_KEYS = env_list("OMS_CREDENTIAL_KEYS", [])
if not all(crypto.valid_key(key) for key in OMS_CREDENTIAL_KEYS):
    raise ImproperlyConfigured(
        "OMS_CREDENTIAL_KEYS must be comma-separated Fernet keys "
        '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
    )
# Bearer token that shows the details of /readyz to a monitor (staff see them signed in).
OMS_HEALTH_TOKEN = env_str("OMS_HEALTH_TOKEN", "")
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:", *([MAP_TILE_URL.split("/{")[0]] if MAP_TILE_URL else [])],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"

# --- Email -----------------------------------------------------------------------------------
EMAIL_URL = env_str("EMAIL_URL", "console://")


def _mailer(url: str) -> dict:
    """`console://`, `locmem://`, or `smtp://user:pass@host:port` (`smtp+tls://`, `smtps://`)."""
    from urllib.parse import unquote, urlparse

    if url.startswith("console://"):
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url.startswith("locmem://"):
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    parsed = urlparse(url)
    if parsed.scheme not in ("smtp", "smtp+tls", "smtps"):
        raise ImproperlyConfigured("EMAIL_URL must be console://, locmem:// or smtp[+tls|s]://…")
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parsed.hostname or "localhost",
            "port": parsed.port or 25,
            "username": unquote(parsed.username or ""),
            "password": unquote(parsed.password or ""),
            "use_tls": parsed.scheme == "smtp+tls",
            "use_ssl": parsed.scheme == "smtps",
            "timeout": 10,
        },
    }


MAILERS = {"default": _mailer(EMAIL_URL)}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "oms@localhost")

# --- Cache -----------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- REST framework --------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "oms.lib.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": "REST API v1 for kiosks, store POS, driver apps and ERP push.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI assets are served from the drf-spectacular-sidecar package, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several components have a `status` field with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "DriverEventStatusEnum": "fleet.api.serializers.DRIVER_EVENT_STATUSES",
        "ErpResultStatusEnum": ["accepted", "duplicate", "rejected"],
        "KindEnum": "customers.models.Customer.Kind",
        "SenderKindEnum": "fleet.models.SenderRole",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "orders.api.schema.problem_responses_hook",
    ],
}
OMS_ORDER_RATE_PER_MINUTE = env_int("OMS_ORDER_RATE_PER_MINUTE", 120)
OMS_IDEMPOTENCY_RETENTION_DAYS = env_int("OMS_IDEMPOTENCY_RETENTION_DAYS", 7)
# An in-flight idempotency record older than this belongs to a request that died; it may be retaken.
OMS_IDEMPOTENCY_STALE_SECONDS = env_int("OMS_IDEMPOTENCY_STALE_SECONDS", 60)

# --- Request limits --------------------------------------------------------------------------
# ERP push webhook: the largest body (checked before it is read), how far `X-OMS-Timestamp` may be
# from our clock, and the ERP systems that must send the timestamp (codes, or `*` for every system).
OMS_ERP_WEBHOOK_MAX_BYTES = env_int("OMS_ERP_WEBHOOK_MAX_BYTES", 32 * 1024 * 1024)
OMS_ERP_WEBHOOK_TOLERANCE_SECONDS = env_int("OMS_ERP_WEBHOOK_TOLERANCE_SECONDS", 300)
OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP = env_list("OMS_ERP_WEBHOOK_REQUIRE_TIMESTAMP", [])
# Writes a person makes in the portal and the console (orders, messages, call-backs, call-offs,
# cancellations, returns), per kind and per minute: for each user, and for each order.
OMS_WRITES_PER_USER_PER_MINUTE = env_int("OMS_WRITES_PER_USER_PER_MINUTE", 20)
OMS_WRITES_PER_ORDER_PER_MINUTE = env_int("OMS_WRITES_PER_ORDER_PER_MINUTE", 10)
# Customer lookups and registrations through the API, per device key and per minute.
OMS_CUSTOMER_API_RATE_PER_MINUTE = env_int("OMS_CUSTOMER_API_RATE_PER_MINUTE", 30)

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
# Hard limit of the long tasks (order exports, housekeeping); each is asked to stop 100 s before.
OMS_LONG_TASK_TIME_LIMIT = env_int("OMS_LONG_TASK_TIME_LIMIT", 1900)
# A task is acknowledged when it ends (acks_late), so the broker must not hand it to another worker
# while the first one may still run it: the Redis visibility timeout (and RabbitMQ's server-side
# `consumer_timeout`, docs/operations.md) must exceed the longest hard time limit.
OMS_BROKER_ACK_TIMEOUT = max(CELERY_TASK_TIME_LIMIT, OMS_LONG_TASK_TIME_LIMIT) + 300
BROKER_KIND = CELERY_BROKER_URL.split("://", 1)[0].split("+", 1)[0]
_broker_dir = VAR_DIR / "broker"
if BROKER_KIND == "filesystem":
    CELERY_BROKER_TRANSPORT = "oms.lib.fsbroker:Transport"  # kombu's, with atomic writes
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
elif BROKER_KIND in ("amqp", "amqps", "pyamqp"):
    # RabbitMQ redelivers an unacknowledged message only when the consumer's channel closes; how long
    # a delivery may stay unacknowledged is the server's `consumer_timeout`, not a client option.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0}
    CELERY_BROKER_HEARTBEAT = 60
    # A delivery belongs to its channel: once the connection is lost, a running task can no longer be
    # acknowledged and RabbitMQ hands its message to a consumer again. The worker stops such a task,
    # rather than let the redelivery run it a second time alongside (an export twice at once).
    CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": OMS_BROKER_ACK_TIMEOUT, "max_retries": 0}
# `max_retries: 0` above: a request that queues a nudge (an order placed, an ERP message received, an
# EPOD signed) tries the broker once and goes on if it is down (the periodic sweeps deliver); kombu
# would otherwise retry the connection for about 6 s inside the request. Workers and the beat
# reconnect by their own settings (`broker_connection_max_retries`, the publish retry policy).
OMS_BEAT_LEASE_SECONDS = env_int("OMS_BEAT_LEASE_SECONDS", 30)
# Inbound ERP messages applied per transaction (each in its own savepoint).
OMS_INBOX_APPLY_BATCH = env_int("OMS_INBOX_APPLY_BATCH", 500)
# Where ERP connections may point (erp_sync.addresses): https only, and no private, loopback,
# link-local, multicast or reserved address, except for the hosts listed (names or IP addresses).
OMS_ERP_ALLOW_HTTP = env_bool("OMS_ERP_ALLOW_HTTP", ENVIRONMENT in ("development", "test"))
OMS_ERP_ALLOWED_PRIVATE_HOSTS = env_list("OMS_ERP_ALLOWED_PRIVATE_HOSTS", [])
# Housekeeping on the beat (docs/operations.md, "Housekeeping and retention"): days the finished
# ERP sync history is kept, GPS points older than this are thinned to one per truck and 5 minutes.
OMS_RETENTION_INBOX_DAYS = env_int("OMS_RETENTION_INBOX_DAYS", 30)
OMS_RETENTION_OUTBOX_DAYS = env_int("OMS_RETENTION_OUTBOX_DAYS", 30)
OMS_RETENTION_SYNC_RUNS_DAYS = env_int("OMS_RETENTION_SYNC_RUNS_DAYS", 90)
OMS_POSITIONS_COMPACT_DAYS = env_int("OMS_POSITIONS_COMPACT_DAYS", 7)
# Rows deleted per transaction, and where deleted rows are archived first (empty: not archived).
OMS_RETENTION_BATCH_SIZE = env_int("OMS_RETENTION_BATCH_SIZE", 5000)
OMS_RETENTION_ARCHIVE_DIR = env_str("OMS_RETENTION_ARCHIVE_DIR", "")
# Days an order export file is kept for its owner to download (the beat deletes older ones).
OMS_EXPORT_RETENTION_DAYS = env_int("OMS_EXPORT_RETENTION_DAYS", 7)
# Order exports of up to this many rows stream from the web process; larger ones are written by a
# worker (the `files` queue) and downloaded from the export list.
OMS_EXPORT_SYNC_LIMIT = env_int("OMS_EXPORT_SYNC_LIMIT", 5000)

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
# JSON lines for machines, or one readable line per event for a developer's terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "text" if ENVIRONMENT == "development" else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "oms.lib.requestid.RequestIdFilter"},
        "quiet_periodic": {"()": "oms.lib.logs.QuietPeriodicFilter"},
    },
    "formatters": {
        "json": {"()": "oms.lib.logs.JsonFormatter"},
        "text": {"()": "oms.lib.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "quiet_periodic"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        "axes": {"level": "WARNING"},  # every failed sign-in and lockout; not each successful one
        "fontTools": {"level": "WARNING"},  # ~17 INFO lines per EPOD PDF while fpdf2 subsets the font
    },
}

# --- Metrics and error tracking --------------------------------------------------------------
# Prometheus multiprocess mode: every web and worker process writes its samples here, `/metrics`
# adds them up (oms/metrics.py). Empty it before the processes start (scripts/run.sh does).
PROMETHEUS_MULTIPROC_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus")))
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)  # read by prometheus-client
# `/metrics` answers a request with `Authorization: Bearer <token>` or from these networks; else 404.
OMS_METRICS_TOKEN = env_str("OMS_METRICS_TOKEN", "")
OMS_METRICS_ALLOWED_NETWORKS = env_list("OMS_METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
for _network in OMS_METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"OMS_METRICS_ALLOWED_NETWORKS: {exc}") from exc
# Error tracking with Sentry (or a compatible service) when a DSN is set; no personal data is sent.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN:
    from oms.lib.sentry import sentry_init

    sentry_init(SENTRY_DSN, environment=ENVIRONMENT)


# --- Production guards -----------------------------------------------------------------------
def _production_problems() -> list[str]:
    """What keeps these settings from being safe in production, one sentence each."""
    problems = []
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("DJANGO_SECRET_KEY must be set to a random value of 50+ characters.")
    if DEBUG:
        problems.append("DJANGO_DEBUG must be off in production.")
    if not env_is_set("DJANGO_ALLOWED_HOSTS"):
        problems.append("DJANGO_ALLOWED_HOSTS must be set to the host names of the site.")
    if not env_is_set("OMS_SITE_URL") or not SITE_URL.startswith("https://"):
        problems.append("OMS_SITE_URL must be set to the public https:// address of the site.")
    if not env_is_set("OMS_TRUSTED_PROXY_COUNT"):
        problems.append(
            "OMS_TRUSTED_PROXY_COUNT must be set: the reverse proxies in front of the app (0 = none)."
        )
    if not REDIS_URL:
        problems.append("REDIS_URL must be set: rate limits and the cache are shared through Redis.")
    if not MAILERS["default"]["BACKEND"].endswith("smtp.EmailBackend"):
        problems.append(
            "EMAIL_URL must be an smtp://, smtp+tls:// or smtps:// URL: other mailers send nothing."
        )
    if not OMS_CREDENTIAL_KEYS:
        problems.append("OMS_CREDENTIAL_KEYS must be set: the Fernet keys of the stored ERP credentials.")
    return problems


if PRODUCTION and (_problems := _production_problems()):
    _unset = "" if env_is_set("DJANGO_ENV") else " (DJANGO_ENV is not set, which means production)"
    raise ImproperlyConfigured(
        f"Production settings are incomplete{_unset}: "
        + " ".join(_problems)
        + " See docs/operations.md#production-environment; on a workstation set DJANGO_ENV=development."
    )
