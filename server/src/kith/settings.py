"""The one settings module. Everything comes from environment variables (see ``.env.example``).

``KITH_ENV=development`` (the default, what ``make run`` uses) runs on an embedded SQLite database, the embedded
job runner and a console mail backend. ``KITH_ENV=production`` requires ``SECRET_KEY`` and ``ALLOWED_HOSTS`` and
turns on every HTTPS hardening flag, so ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from kith.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent

KITH_ENV = env_str("KITH_ENV", "development")
if KITH_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"KITH_ENV must be 'development' or 'production', got {KITH_ENV!r}.")
PRODUCTION = KITH_ENV == "production"

# Where the embedded database and other local state live in development.
KITH_DATA_DIR = Path(env_str("KITH_DATA_DIR", str(Path.cwd() / "var"))).resolve()

DEBUG = env_bool("KITH_DEBUG", False)
if PRODUCTION:
    SECRET_KEY = env_str("SECRET_KEY")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("Set the environment variable ALLOWED_HOSTS.")
else:
    # A fixed key is fine for a local development server; production refuses to start without its own.
    SECRET_KEY = env_str("SECRET_KEY", "django-insecure-kith-development-only-key-0123456789abcdef")
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])

# The port `make run` (manage.py kith_run) serves on; production binds through gunicorn's own options.
KITH_PORT = env_int("KITH_PORT", 8000)
KITH_BASE_URL = env_str("KITH_BASE_URL", f"http://127.0.0.1:{KITH_PORT}")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Search: full-text and trigram expressions/indexes on PostgreSQL; registers nothing on SQLite.
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "kith.core",
    "kith.accounts",
    "kith.contacts",
    "kith.timeline",
    "kith.messaging",
    "kith.tracking",
    "kith.deals",
    "kith.events",
    "kith.search",
    "kith.preferences",
    "kith.tasks",
    "kith.webhooks",
    "kith.segments",
    "kith.drips",
    "kith.workflows",
    "kith.web",
    "kith.savedviews",
    "kith.imports",
    "kith.campaigns",
    "kith.inbound",
]

MIDDLEWARE = [
    "kith.core.observability.RequestIdMiddleware",
    "kith.core.observability.MetricsMiddleware",
    # /healthz and /metrics are answered here, before host validation and sessions (see its docstring).
    "kith.core.views.OpsEndpointsMiddleware",
    # The open pixel and tracked-link clicks, likewise before sessions and auth (see its docstring).
    "kith.tracking.middleware.TrackingEndpointsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kith.accounts.middleware.WorkspaceMiddleware",
    # X-RateLimit-* headers on API responses (the throttle itself is DRF's, see REST_FRAMEWORK below).
    "kith.core.ratelimit.RateLimitHeadersMiddleware",
]

ROOT_URLCONF = "kith.urls"
WSGI_APPLICATION = "kith.wsgi.application"
ASGI_APPLICATION = "kith.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Searched before the apps' folders, so Kith's allauth/... templates override django-allauth's own (app
        # folders are searched in INSTALLED_APPS order, where allauth comes first).
        "DIRS": [BASE_DIR / "web" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kith.accounts.context_processors.workspace",
            ],
        },
    },
]

# --- Database ----------------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{KITH_DATA_DIR / 'kith.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("KITH_DB_CONN_MAX_AGE", 60))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # libpq waits for a TCP connect without limit; an unreachable database host must fail requests and /healthz
    # within seconds instead of hanging every worker thread.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("KITH_DB_CONNECT_TIMEOUT", 5))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web server read while the embedded job runner writes; IMMEDIATE transactions take the write
        # lock up front so two writers queue on busy_timeout instead of failing with "database is locked".
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
    # A file (not :memory:) so that test subprocesses — job workers, the live server — see the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(KITH_DATA_DIR / "test_kith.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Accounts (django-allauth) -----------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "web:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env_str("KITH_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_BY_CODE_ENABLED = False
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
ACCOUNT_ADAPTER = "kith.accounts.adapters.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Kith] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Kith"

# --- E-mail ------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("KITH_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("KITH_SMTP_HOST", "127.0.0.1")
EMAIL_PORT = env_int("KITH_SMTP_PORT", 1025)
EMAIL_HOST_USER = env_str("KITH_SMTP_USER", "")
EMAIL_HOST_PASSWORD = env_str("KITH_SMTP_PASSWORD", "")
EMAIL_USE_TLS = env_bool("KITH_SMTP_STARTTLS", False)
EMAIL_USE_SSL = env_bool("KITH_SMTP_TLS", False)
DEFAULT_FROM_EMAIL = env_str("KITH_DEFAULT_FROM_EMAIL", "Kith <no-reply@kith.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# How Kith's own messages (templates, campaigns, the transactional API) leave: "smtp" through the KITH_SMTP_*
# server above (in development the sink `make run` starts on port 1025), "memory" keeps them in-process (tests).
KITH_MESSAGING_EMAIL_BACKEND = env_str("KITH_MESSAGING_EMAIL_BACKEND", "smtp")
# DKIM signing by the SMTP backend: all three or none (kith.messaging.backends.dkim).
KITH_DKIM_DOMAIN = env_str("KITH_DKIM_DOMAIN", "")
KITH_DKIM_SELECTOR = env_str("KITH_DKIM_SELECTOR", "")
KITH_DKIM_PRIVATE_KEY_FILE = env_str("KITH_DKIM_PRIVATE_KEY_FILE", "")
# Provider credentials for the delivery backends a workspace can pick (kith.messaging.backends); the *_API_URL /
# endpoint settings exist for stand-ins and regional endpoints and default to the vendor's public API.
KITH_SES_REGION = env_str("KITH_SES_REGION", "us-east-1")
KITH_SES_ACCESS_KEY_ID = env_str("KITH_SES_ACCESS_KEY_ID", "")
KITH_SES_SECRET_ACCESS_KEY = env_str("KITH_SES_SECRET_ACCESS_KEY", "")
KITH_SES_ENDPOINT_URL = env_str("KITH_SES_ENDPOINT_URL", "")
KITH_SES_CONFIGURATION_SET = env_str("KITH_SES_CONFIGURATION_SET", "")
KITH_SENDGRID_API_KEY = env_str("KITH_SENDGRID_API_KEY", "")
KITH_SENDGRID_API_URL = env_str("KITH_SENDGRID_API_URL", "")
KITH_MAILGUN_API_KEY = env_str("KITH_MAILGUN_API_KEY", "")
KITH_MAILGUN_DOMAIN = env_str("KITH_MAILGUN_DOMAIN", "")
KITH_MAILGUN_API_URL = env_str("KITH_MAILGUN_API_URL", "")
KITH_POSTMARK_SERVER_TOKEN = env_str("KITH_POSTMARK_SERVER_TOKEN", "")
KITH_POSTMARK_API_URL = env_str("KITH_POSTMARK_API_URL", "")
KITH_TWILIO_ACCOUNT_SID = env_str("KITH_TWILIO_ACCOUNT_SID", "")
KITH_TWILIO_AUTH_TOKEN = env_str("KITH_TWILIO_AUTH_TOKEN", "")
KITH_TWILIO_API_URL = env_str("KITH_TWILIO_API_URL", "https://api.twilio.com")
KITH_SMS_HTTP_URL = env_str("KITH_SMS_HTTP_URL", "")
KITH_SMS_HTTP_AUTH_HEADER = env_str("KITH_SMS_HTTP_AUTH_HEADER", "")
# Provider webhooks (anymail tracking views under /webhooks/): basic auth "user:password" for all of them, plus
# the providers' own signatures where they sign. Without KITH_WEBHOOK_BASIC_AUTH every webhook answers 401.
KITH_WEBHOOK_BASIC_AUTH = env_str("KITH_WEBHOOK_BASIC_AUTH", "")
ANYMAIL = {
    "WEBHOOK_SECRET": KITH_WEBHOOK_BASIC_AUTH,
    "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("KITH_MAILGUN_WEBHOOK_SIGNING_KEY", ""),
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": env_str("KITH_SENDGRID_WEBHOOK_VERIFICATION_KEY", "") or None,
    # The SES webhook confirms its SNS subscription through boto3 with the same credentials the SES backend uses.
    "AMAZON_SES_SESSION_PARAMS": {"region_name": KITH_SES_REGION, **({
        "aws_access_key_id": KITH_SES_ACCESS_KEY_ID, "aws_secret_access_key": KITH_SES_SECRET_ACCESS_KEY,
    } if KITH_SES_ACCESS_KEY_ID else {})},
}
# SMTP bounces: the return path is bounce+<signed token>@KITH_BOUNCE_DOMAIN (VERP) when set; the bounce processor
# reads delivered DSNs from the Maildir KITH_BOUNCE_MAILDIR (see kith.messaging.bounces).
KITH_BOUNCE_DOMAIN = env_str("KITH_BOUNCE_DOMAIN", "")
KITH_BOUNCE_MAILDIR = env_str("KITH_BOUNCE_MAILDIR", str(KITH_DATA_DIR / "bounces"))
# Send jobs started per campaign: each claims batches until none is left, so this caps how many workers share one
# campaign (more than the workers running only queues jobs that end at once).
KITH_CAMPAIGN_SENDERS = env_int("KITH_CAMPAIGN_SENDERS", 4)

# --- Jobs --------------------------------------------------------------------------------------------------
# Celery when a broker is configured, the embedded database runner otherwise (see kith.core.jobs).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", env_str("REDIS_URL", ""))
KITH_JOBS_RUNNER = env_str("KITH_JOBS_RUNNER", "celery" if CELERY_BROKER_URL else "embedded")
if KITH_JOBS_RUNNER not in {"celery", "embedded", "immediate"}:
    raise ImproperlyConfigured(f"KITH_JOBS_RUNNER must be celery, embedded or immediate, got {KITH_JOBS_RUNNER!r}.")
if KITH_JOBS_RUNNER == "celery" and not CELERY_BROKER_URL:
    raise ImproperlyConfigured("KITH_JOBS_RUNNER=celery needs CELERY_BROKER_URL or REDIS_URL.")
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "kith"
# The job row is the truth: a lost doorbell is re-rung by the sweeper, so the broker needs no durability tricks.
KITH_JOBS_POLL_INTERVAL = float(env_str("KITH_JOBS_POLL_INTERVAL", "0.5"))

# --- Outgoing webhooks --------------------------------------------------------------------------------------
# Off in production: endpoints on private, loopback or link-local addresses are refused (SSRF). Development and
# tests turn it on to reach a receiver on localhost.
KITH_WEBHOOKS_ALLOW_PRIVATE = env_bool("KITH_WEBHOOKS_ALLOW_PRIVATE", False)

# --- API ---------------------------------------------------------------------------------------------------
# Token bucket per API key (and per member for session calls): KITH_API_RATE_BURST requests at once, refilled at
# KITH_API_RATE_LIMIT requests a minute; 0 turns the limit off (kith.core.ratelimit).
KITH_API_RATE_LIMIT = env_int("KITH_API_RATE_LIMIT", 1200)
KITH_API_RATE_BURST = env_int("KITH_API_RATE_BURST", 600)
# The cache holds the rate-limit buckets; shared through Redis when there is one, so every web process counts
# together. Without Redis (embedded mode, one process) process memory does.
KITH_CACHE_URL = env_str("KITH_CACHE_URL", env_str("REDIS_URL", ""))
if KITH_CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": KITH_CACHE_URL,
                          "KEY_PREFIX": "kith"}}
elif KITH_CACHE_URL:
    raise ImproperlyConfigured(f"KITH_CACHE_URL must be a redis:// URL, got {KITH_CACHE_URL!r}.")
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kith"}}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "kith.accounts.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["kith.accounts.permissions.WorkspaceAccess"],
    "DEFAULT_PAGINATION_CLASS": "kith.core.api.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "kith.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API speaks JSON only: one body format to validate and document; anything else is a clear 415.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["kith.core.ratelimit.ApiKeyRateThrottle"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Kith API",
    "DESCRIPTION": "REST API of the Kith CRM. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc come from drf-spectacular-sidecar's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name for a choice set used by several fields (e-mail and SMS consent share ConsentState).
    "ENUM_NAME_OVERRIDES": {"ConsentStateEnum": "kith.contacts.models.ConsentState",
                            # Deal status and stage kind share the values open/won/lost: one enum serves both.
                            "DealOutcomeEnum": "kith.deals.models.DealStatus",
                            "TaskStatusEnum": "kith.tasks.models.TaskStatus",
                            # The per-item status of every bulk endpoint (contacts, companies, deals, tasks): one enum.
                            "BulkItemStatusEnum": "kith.contacts.bulk.BULK_STATUS_VALUES",
                            "ImportKindEnum": "kith.imports.models.ImportKind",
                            "InboundEndpointKindEnum": "kith.inbound.models.EndpointKind",
                            "MessageStatusEnum": "kith.messaging.models.MessageStatus",
                            "ActivityKindEnum": "kith.timeline.models.ActivityKind",
                            "LoggedActivityKindEnum": "kith.timeline.models.MANUAL_KIND_CHOICES"},
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "kith.core.schema.add_error_responses",
        "kith.core.ratelimit.document_rate_limits",
    ],
}

# --- Static files, i18n ------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("KITH_STATIC_ROOT", str(KITH_DATA_DIR / "static")))
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
# Development serves straight from the app folders so `make run` needs no collectstatic step.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ----------------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = False  # HTMX reads the token from the page, not the cookie; kept default for clarity.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("KITH_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("KITH_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("KITH_HSTS_PRELOAD", True)

DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("KITH_MAX_REQUEST_BYTES", 5 * 1024 * 1024)
# Largest CSV/XLSX file an import accepts (bytes); uploads stream to disk, so this bounds disk, not memory.
KITH_IMPORT_MAX_BYTES = env_int("KITH_IMPORT_MAX_BYTES", 256 * 1024 * 1024)

# --- Observability -----------------------------------------------------------------------------------------
KITH_METRICS_TOKEN = env_str("KITH_METRICS_TOKEN", "")
LOG_LEVEL = env_str("KITH_LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "kith.core.observability.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("KITH_LOG_FORMAT", "json"),
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
