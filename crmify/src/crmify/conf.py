"""crmify's settings, read from ``settings.CRMIFY`` every time they are asked for.

Nothing here is cached at import: a host's ``override_settings(CRMIFY=...)`` in a test takes effect on the next
call, which the 1.x release got wrong by building its backend at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

DEFAULTS: dict[str, Any] = {
    "BACKEND": "crmify.backends.insightly.InsightlyBackend",
    "BACKEND_AUTH": None,  # None: taken from the CRMIFY_BACKEND_AUTH_* environment variables
    "LEAD_MODEL": "django.contrib.auth.models.User",
    "LEAD_MODEL_FIELDMAPPER": "crmify.mappers.DjangoUserFieldMapper",
    "LEAD_STATUS_MODEL": None,
    "LEAD_NEW_STATUS": "NotContacted",
    "LEAD_CONVERTED_STATUS": "Converted",
    "LEAD_DEAD_STATUS": "Disqualified",
    # Additions of 2.x (the 1.x keys above keep their meaning and defaults).
    # How the outbox is drained: "thread" (an on-commit background thread in the web process, plus the
    # crmify_worker command), "celery" (a Celery task per commit; the host must run Celery), or "manual" (only the
    # crmify_worker / crmify_sync commands).
    "DELIVERY": "thread",
    "MAX_ATTEMPTS": 12,  # then the entry is dead-lettered (visible and retryable in the admin)
    "RETRY_BASE_SECONDS": 2.0,  # backoff: base * 2**attempt, capped below
    "RETRY_MAX_SECONDS": 3600.0,
    "BATCH_SIZE": 100,
    "TIMEOUT_SECONDS": 10.0,
    # Further models whose changes re-sync the lead (e.g. a profile the mapper reads through "profile__phone"),
    # as {"app_label.Model" or dotted path: "path from that model to the lead model instance"}.
    "RELATED_MODELS": {},
}

AUTH_ENV = {
    "api_key": "CRMIFY_BACKEND_AUTH_API_KEY",
    "username": "CRMIFY_BACKEND_AUTH_USERNAME",
    "password": "CRMIFY_BACKEND_AUTH_PASSWORD",
}


def raw() -> dict[str, Any]:
    configured = getattr(settings, "CRMIFY", None) or {}
    if not isinstance(configured, dict):
        raise ImproperlyConfigured("settings.CRMIFY must be a dict.")
    return {**DEFAULTS, **configured}


def get(name: str) -> Any:
    return raw()[name]


def backend_auth() -> dict[str, str]:
    """The auth parameters the backend is constructed with: BACKEND_AUTH when set, else the environment."""
    configured = get("BACKEND_AUTH")
    if configured:
        return dict(configured)
    return {key: os.environ[var] for key, var in AUTH_ENV.items() if os.environ.get(var)}


def model_label(path: str) -> str:
    """``app_label.ModelName`` for a setting given as a dotted path (``myapp.models.UserProfile``) or as a label.

    Works while models are being imported (after the app configs are loaded), so crmify's own models and
    migrations can point at the host's lead model without importing it.
    """
    module, _, name = path.rpartition(".")
    if not module or not name:
        raise ImproperlyConfigured(f"crmify: {path!r} is not a dotted path to a model.")
    if "." not in module:  # already a label: "myapp.UserProfile"
        try:
            return f"{apps.get_app_config(module).label}.{name}"
        except LookupError:
            pass
    config = apps.get_containing_app_config(module)
    if config is None:
        raise ImproperlyConfigured(f"crmify: {path!r} is not a model of an installed app.")
    return f"{config.label}.{name}"


def lead_model_label() -> str:
    return model_label(get("LEAD_MODEL"))


def lead_model() -> type:
    return apps.get_model(lead_model_label())


def status_model() -> type | None:
    path = get("LEAD_STATUS_MODEL")
    return apps.get_model(model_label(path)) if path else None


def mapper_class() -> type:
    return import_string(get("LEAD_MODEL_FIELDMAPPER"))


@dataclass(frozen=True)
class Statuses:
    new: str
    converted: str
    dead: str
    extra: dict[str, str] = field(default_factory=dict)


def statuses() -> Statuses:
    return Statuses(new=get("LEAD_NEW_STATUS"), converted=get("LEAD_CONVERTED_STATUS"), dead=get("LEAD_DEAD_STATUS"))
