"""Field mappers: how a host's lead model instance becomes crmify ``Lead`` values (the 1.x interface, unchanged)."""

from __future__ import annotations

from typing import Any

from crmify.models import Lead

_NO_VALUE = (None, "")


class LeadModelFieldMapper:
    """Maps host fields (left) onto ``Lead`` fields (right).

    ``field_mapping = {"profile__phone": "phone"}`` — a ``__`` path walks attributes (and calls zero-argument
    methods such as ``get_full_name``). ``fallbacks`` are consulted for a lead field whose mapped value is missing;
    missing means ``None`` or an empty string, so ``DjangoUserFieldMapper``'s username fallback also covers users
    saved with ``email=""`` (Django's default).
    """

    field_mapping: dict[str, str] = {}
    fallbacks: dict[str, str] = {}

    def lookup_value(self, path: str, obj: Any) -> Any:
        value = obj
        for part in path.split("__"):
            if value is None:
                return None
            value = getattr(value, part, None)
            if callable(value) and not hasattr(value, "all"):  # methods, but never a related manager
                value = value()
        return value

    def apply_field_mapping(self, obj: Any) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for host_field, lead_field in self.field_mapping.items():
            values[lead_field] = self.lookup_value(host_field, obj)
        for host_field, lead_field in self.fallbacks.items():
            if values.get(lead_field) in _NO_VALUE:
                fallback = self.lookup_value(host_field, obj)
                if fallback not in _NO_VALUE:
                    values[lead_field] = fallback
        return {field: clean_value(field, value) for field, value in values.items()}

    def create_lead(self, obj: Any) -> Lead:
        lead = Lead(anchor=obj, anchor_key=str(obj.pk))
        for field, value in self.apply_field_mapping(obj).items():
            setattr(lead, field, value)
        lead.save()
        return lead

    def update_lead(self, lead: Lead, obj: Any) -> Lead:
        for field, value in self.apply_field_mapping(obj).items():
            setattr(lead, field, value)
        lead.save()
        return lead


class DjangoUserFieldMapper(LeadModelFieldMapper):
    field_mapping = {
        "first_name": "first_name",
        "last_name": "last_name",
        "email": "email",
    }
    fallbacks = {
        "username": "email",
    }


def lead_field_names() -> set[str]:
    return {f.name for f in Lead._meta.get_fields() if getattr(f, "concrete", False)} - {
        "id", "anchor", "anchor_key", "external_id", "last_synced", "sync_hash", "version", "synced_version",
        "deleted_at", "created_at", "updated_at"}


def clean_value(field: str, value: Any) -> Any:
    """Text as ``str`` (whatever the host hands us, non-ASCII included), ``None`` as the column's empty value."""
    if field == "dob":
        return value or None
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
