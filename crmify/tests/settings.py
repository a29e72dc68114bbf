"""A minimal host project for crmify's own tests (SQLite, or PostgreSQL via CRMIFY_TEST_DATABASE_URL)."""

import os

import django
import tempfile

SECRET_KEY = "crmify-tests"
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "tests.hostapp",
    "crmify",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages",
                                                 "django.template.context_processors.request"]}}]
DATA_DIR = os.environ.get("CRMIFY_TEST_DATA_DIR") or tempfile.gettempdir()
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(DATA_DIR, "crmify-test.sqlite3"),
                         "TEST": {"NAME": os.path.join(DATA_DIR, "crmify-test-db.sqlite3")}}}
# Like any host running crmify's delivery thread on SQLite: WAL so readers never block the writer, and a generous
# busy timeout so the host's writes queue behind the thread's short ones instead of failing; synchronous=NORMAL
# as Kith itself runs SQLite (durable at checkpoints, no flush per commit).
if django.VERSION >= (5, 1):
    DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE",
                                       "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"}
else:
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
if os.environ.get("CRMIFY_TEST_DATABASE_URL"):
    import urllib.parse

    url = urllib.parse.urlparse(os.environ["CRMIFY_TEST_DATABASE_URL"])
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": url.path.lstrip("/"),
                             "USER": url.username or "", "PASSWORD": url.password or "",
                             "HOST": url.hostname or "", "PORT": str(url.port or "")}}
# A Celery worker started by a test must use the database the test run created, not the development one.
if os.environ.get("CRMIFY_TEST_WORKER"):
    test_name = DATABASES["default"].get("TEST", {}).get("NAME") or f"test_{DATABASES['default']['NAME']}"
    DATABASES["default"]["NAME"] = test_name
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CRMIFY = {
    "BACKEND": "crmify.backends.test.TestBackend",
    "DELIVERY": "manual",
    "RETRY_BASE_SECONDS": 0.0,
}
