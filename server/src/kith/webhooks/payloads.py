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


def contact_tag_data(contact: Any, *, tag: str) -> dict[str, Any]:
    return {"contact": {"id": contact.pk, "email": contact.email, "external_id": contact.external_id}, "tag": tag}


def email_engagement_data(message: Any, *, occurred_at: Any, url: str | None = None,
                          link_index: int | None = None, client_kind: str = "") -> dict[str, Any]:
    """``email.opened`` / ``email.clicked``: the message, its contact, and (for a click) which link."""
    data: dict[str, Any] = {
        "message": {"id": message.pk, "subject": message.subject, "source_type": message.source_type,
                    "source_id": message.source_id,
                    "template": getattr(message.template_version, "template_id", None)},
        "contact": {"id": message.contact_id, "email": message.to_address},
        "occurred_at": _stamp(occurred_at)}
    if url is not None:
        data["url"], data["link_index"] = url, link_index
    if client_kind:
        data["client_kind"] = client_kind
    return data


def event_received_data(event: Any) -> dict[str, Any]:
    """``event.received``: the processed event as stored, with the contact it was resolved to."""
    return {"id": event.pk, "type": event.type, "name": event.name, "message_id": event.message_id,
            "user_id": event.user_id, "anonymous_id": event.anonymous_id, "contact": event.contact_id,
            "properties": event.properties, "traits": event.traits, "timestamp": _stamp(event.timestamp),
            "received_at": _stamp(event.received_at)}
