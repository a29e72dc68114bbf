"""Mixins for host models (the 1.x interface)."""

from __future__ import annotations

from typing import Any

from crmify import conf


class _StatusConstant:
    """Reads the configured status on access, so ``override_settings(CRMIFY=...)`` is honoured."""

    def __init__(self, setting: str) -> None:
        self.setting = setting

    def __get__(self, instance: Any, owner: type) -> str:
        return conf.get(self.setting)


class LeadStatusMixin:
    """A host model that decides a lead's status (``CRMIFY['LEAD_STATUS_MODEL']``).

    Implement ``lead_status()`` returning ``(lead_model_instance, status)``; saving the status model re-syncs that
    lead with the status. ``NEW_LEAD``, ``CONVERTED_LEAD`` and ``DEAD_LEAD`` are the configured status names.
    """

    NEW_LEAD = _StatusConstant("LEAD_NEW_STATUS")
    CONVERTED_LEAD = _StatusConstant("LEAD_CONVERTED_STATUS")
    DEAD_LEAD = _StatusConstant("LEAD_DEAD_STATUS")

    def lead_status(self) -> tuple[Any, str]:
        raise TypeError(f"{type(self).__name__} must implement lead_status() -> (lead_model_instance, status)")
