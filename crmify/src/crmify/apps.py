from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


class CrmifyConfig(AppConfig):
    name = "crmify"
    verbose_name = "CRM sync (crmify)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crmify import checks, receivers  # noqa: F401 — registers the system checks

        try:
            receivers.connect()
        except Exception:  # noqa: BLE001 — a bad setting is reported by the system checks, not as an import crash
            pass
        setting_changed.connect(_reconnect, dispatch_uid="crmify.setting_changed")


def _reconnect(setting: str, **kwargs: Any) -> None:
    if setting == "CRMIFY":
        from crmify import receivers

        try:
            receivers.connect()
        except Exception:  # noqa: BLE001 — a bad value is for the system checks to report; watch nothing meanwhile
            receivers.disconnect()
