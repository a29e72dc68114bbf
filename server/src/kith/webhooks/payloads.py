"""The ``data`` of each event type: plain JSON built from the domain object, so the emitting service makes one call
(``webhook_emit(..., data=contact_data(contact))``) and the shape of a payload is defined in one place.

These read attributes only; they do not import the apps whose objects they describe (webhooks sit below them)."""

from __future__ import annotations

from typing import Any

_CONTACT_FIELDS = ("email", "first_name", "last_name", "phone", "lifecycle_stage", "lead_status", "email_consent",
                   "sms_consent", "external_id", "source", "attributes")


def _stamp(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def contact_data(contact: Any, *, changed: list[str] | None = None) -> dict[str, Any]:
    data = {"id": contact.pk, **{name: getattr(contact, name) for name in _CONTACT_FIELDS},
            "company": contact.company_id, "owner": contact.owner_id,
            "created_at": _stamp(contact.created_at), "updated_at": _stamp(contact.updated_at)}
    if changed is not None:
        data["changed"] = sorted(changed)
    return data


def deal_stage_changed_data(deal: Any, *, from_stage: Any) -> dict[str, Any]:
    return {"id": deal.pk, "name": deal.name, "pipeline": deal.pipeline_id, "status": deal.status,
            "value": str(deal.value), "currency": deal.currency, "contact": deal.contact_id,
            "company": deal.company_id, "owner": deal.owner_id,
            "from_stage": {"id": from_stage.pk, "name": from_stage.name},
            "to_stage": {"id": deal.stage.pk, "name": deal.stage.name}}
