"""Settings of the car store. Everything that differs between machines comes from the environment.

| variable | default | what |
| --- | --- | --- |
| STOREFRONT_DATA_DIR | examples/storefront/var | the SQLite database lives here |
| STOREFRONT_SECRET_KEY | a development key | Django's SECRET_KEY |
| STOREFRONT_DEBUG | true | Django's DEBUG |
| KITH_URL | http://127.0.0.1:8000 | the Kith server crmify talks to |
| KITH_API_KEY | (empty) | a Kith API key with the write and events scopes |
| STOREFRONT_CRMIFY_DELIVERY | manual | crmify's DELIVERY: run `manage.py crmify_worker` next to the web server |
| STOREFRONT_DEAL_PIPELINE | Car sales | the Kith pipeline purchases become deals in |
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("STOREFRONT_DATA_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = os.environ.get("STOREFRONT_SECRET_KEY", "storefront-example-not-for-production")
DEBUG = os.environ.get("STOREFRONT_DEBUG", "true").lower() in ("1", "true", "yes")
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crmify",
    "cars",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "storefront.urls"
WSGI_APPLICATION = "storefront.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite in WAL mode with a busy timeout, as crmify's README asks: the web process and `crmify_worker` write to
# the same file. IMMEDIATE transactions take the write lock up front, so two writers wait for each other instead
# of failing with "database is locked" when a reader upgrades.
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "storefront.sqlite3",
        "OPTIONS": {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }
}
# Every request is one transaction: a purchase and its outbox entries commit together or not at all.
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "catalogue"
LOGOUT_REDIRECT_URL = "catalogue"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

# The whole CRM integration: who the leads are, how they map, where the CRM is. The store's code only calls
# crmify (track, convert, set_status); e-mails, SMS and their timing are configured in Kith.
CRMIFY = {
    # A subclass of crmify's Kith backend that also turns purchase events into Kith deals (cars/crm.py).
    "BACKEND": "cars.crm.StorefrontKithBackend",
    "BACKEND_AUTH": {
        "api_key": os.environ.get("KITH_API_KEY", ""),
        "base_url": os.environ.get("KITH_URL", "http://127.0.0.1:8000"),
        "pipeline": os.environ.get("STOREFRONT_DEAL_PIPELINE", "Car sales"),
    },
    "LEAD_MODEL": "cars.models.Customer",
    "LEAD_MODEL_FIELDMAPPER": "cars.crm.CustomerFieldMapper",
    # The customer decides its own status (LeadStatusMixin): NotContacted → Contacted → Converted.
    "LEAD_STATUS_MODEL": "cars.models.Customer",
    # The mapper reads the customer's name and e-mail from auth.User: editing them re-syncs the lead.
    "RELATED_MODELS": {"auth.User": "customer"},
    "DELIVERY": os.environ.get("STOREFRONT_CRMIFY_DELIVERY", "manual"),
    # An example restarts its CRM often; retry quickly (the default backoff doubles up to an hour).
    "RETRY_BASE_SECONDS": float(os.environ.get("STOREFRONT_CRMIFY_RETRY_SECONDS", "1")),
    "RETRY_MAX_SECONDS": float(os.environ.get("STOREFRONT_CRMIFY_RETRY_MAX_SECONDS", "10")),
    # Keep retrying through a long outage: with the 10 s cap this is about an hour before a dead letter.
    "MAX_ATTEMPTS": 400,
    "TIMEOUT_SECONDS": 5,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"crmify": {"handlers": ["console"], "level": "INFO"}},
}
