"""CRM backends. A backend is any class with ``sync_lead(lead) -> str`` and ``delete_lead(lead_id) -> bool``,
constructed with the auth parameters (``CRMIFY['BACKEND_AUTH']`` or the ``CRMIFY_BACKEND_AUTH_*`` variables).
Optional: ``sync_leads(leads) -> list[str | Exception]`` (batched sync) and ``track(lead, event, properties,
timestamp, message_id=...)`` (events)."""

from __future__ import annotations

from typing import Any

from django.utils.module_loading import import_string

from crmify import conf


def build_backend() -> Any:
    """A backend built from the settings as they are now (never cached: override_settings must take effect)."""
    return import_string(conf.get("BACKEND"))(**conf.backend_auth())
