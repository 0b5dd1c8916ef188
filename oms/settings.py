"""Settings for every environment, read from environment variables.

`.env.example` lists every variable. With nothing configured the project runs embedded: SQLite in
`var/` and a file-system Celery broker, so `make run` needs no server. `DJANGO_ENV=production`
turns on the production guards: a real secret key is required and DEBUG must be off.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

from oms.lib.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OMS_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEV_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 - refused in production below

ENVIRONMENT = env_str("DJANGO_ENV", "development")
PRODUCTION = ENVIRONMENT == "production"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("OMS_SITE_URL", "http://127.0.0.1:8000").rstrip("/")

if PRODUCTION:
    if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set to a random value of 50+ characters.")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "oms.lib.cache_control.PrivateCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
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
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DB_SERVER_SIDE_BINDING", True):
    # Server-side parameter binding, and psycopg prepares a statement after its 5th run on a
    # connection: the hot paths (order placement, the inbox) skip parsing and planning. Turn it off
    # behind a pooler in transaction mode (PgBouncer without prepared-statement support).
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/portal/login/"
LOGIN_REDIRECT_URL = "/portal/"
LOGOUT_REDIRECT_URL = "/portal/login/"
PASSWORD_RESET_TIMEOUT = env_int("OMS_PASSWORD_RESET_TIMEOUT", 3 * 24 * 3600)
# Client IP for rate limits: REMOTE_ADDR, or the N-th address from the right of X-Forwarded-For when
# N reverse proxies we trust sit in front of the app (0 = never read X-Forwarded-For).
OMS_TRUSTED_PROXY_COUNT = env_int("OMS_TRUSTED_PROXY_COUNT", 0)
# Portal brute-force protection: after this many wrong passwords for one username from one IP within
# the window, further attempts from that IP are refused until the window ends.
OMS_LOGIN_MAX_FAILURES = env_int("OMS_LOGIN_MAX_FAILURES", 5)
OMS_LOGIN_WINDOW_SECONDS = env_int("OMS_LOGIN_WINDOW_SECONDS", 15 * 60)
# Sign-up and password-reset requests per IP (and per email address) per hour.
OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR = env_int("OMS_PORTAL_EMAIL_REQUESTS_PER_HOUR", 5)
OMS_PORTAL_SIGNUP_MAX_AGE = env_int("OMS_PORTAL_SIGNUP_MAX_AGE", 2 * 24 * 3600)

# --- i18n ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("bg", _("Bulgarian"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"
OMS_DISPLAY_TIME_ZONE = env_str("OMS_DISPLAY_TIME_ZONE", "Europe/Sofia")
OMS_CURRENCY = "EUR"

# --- Static and media ------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request without it
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("OMS_MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION
MAP_TILE_URL = env_str("MAP_TILE_URL", "")

# --- Security --------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
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
_broker_dir = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem://")
    else {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 300}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
OMS_BEAT_LEASE_SECONDS = env_int("OMS_BEAT_LEASE_SECONDS", 30)
# Inbound ERP messages applied per transaction (each in its own savepoint).
OMS_INBOX_APPLY_BATCH = env_int("OMS_INBOX_APPLY_BATCH", 500)

# --- Logging ---------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "oms.lib.requestid.RequestIdFilter"}},
    "formatters": {"json": {"()": "oms.lib.logs.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
    },
}
