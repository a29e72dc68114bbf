"""Reads of the messaging app, and the template contexts (plain data only: no model instance reaches a template)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from jinja2 import ChainableUndefined

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.models import Company, ConsentState, Contact, FieldType
from kith.core.errors import NotFound
from kith.messaging.models import DeliverySettings, Message, Suppression, Template
from kith.preferences.tokens import preferences_url

CONTACT_FIELDS = ("first_name", "last_name", "email", "phone", "lifecycle_stage", "lead_status", "timezone",
                  "locale", "external_id")
COMPANY_FIELDS = ("name", "domain", "industry", "size")
_SAMPLE_BY_TYPE: dict[str, Any] = {FieldType.TEXT: "Sample", FieldType.NUMBER: 42, FieldType.DATE: "2026-01-31",
                                   FieldType.BOOLEAN: True, FieldType.SINGLE_CHOICE: "Sample",
                                   FieldType.MULTI_CHOICE: ["Sample"]}


def contact_data(contact: Contact) -> dict[str, Any]:
    """What ``{{ contact.… }}`` sees: the standard fields, ``full_name`` and every custom attribute by key."""
    data: dict[str, Any] = dict(contact.attributes or {})
    data.update({name: getattr(contact, name) for name in CONTACT_FIELDS})
    data["full_name"] = contact.full_name
    data["attributes"] = dict(contact.attributes or {})
    return data


def company_data(company: Company | None) -> dict[str, Any]:
    if company is None:
        return {name: "" for name in COMPANY_FIELDS}
    data: dict[str, Any] = dict(company.attributes or {})
    data.update({name: getattr(company, name) for name in COMPANY_FIELDS})
    data["attributes"] = dict(company.attributes or {})
    return data


def message_context(*, message: Message) -> dict[str, Any]:
    """The context a message renders with. Caller merge data is available as ``data`` and, for the names
    ``deal`` and ``event``, at the top level too."""
    merge = dict(message.merge_data or {})
    context: dict[str, Any] = {"contact": contact_data(message.contact), "company": company_data(message.contact.company),
                               "workspace": {"name": message.workspace.name}, "data": merge,
                               "preferences_url": preferences_url(workspace_id=message.workspace_id,
                                                                  contact_id=message.contact_id)}
    for name in ("deal", "event"):
        if isinstance(merge.get(name), dict):
            context[name] = merge[name]
    return context


def sample_context(*, workspace: Workspace) -> dict[str, Any]:
    """A context with every field a real one can have, for validation and previews. Caller-supplied namespaces
    (``data``, ``deal``, ``event``) accept any name here, since their keys are only known at send time."""
    contact = {name: "Sample" for name in CONTACT_FIELDS} | {"email": "sample@example.com", "full_name": "Sam Sample"}
    company = {name: "Sample" for name in COMPANY_FIELDS}
    attributes: dict[str, dict[str, Any]] = {"contact": {}, "company": {}}
    for definition in contact_selectors.custom_field_definition_list(workspace=workspace):
        attributes[definition.object_type][definition.key] = _SAMPLE_BY_TYPE.get(definition.field_type, "Sample")
    return {
        "contact": attributes["contact"] | contact | {"attributes": attributes["contact"]},
        "company": attributes["company"] | company | {"attributes": attributes["company"]},
        "workspace": {"name": workspace.name},
        "data": ChainableUndefined(name="data"), "deal": ChainableUndefined(name="deal"),
        "event": ChainableUndefined(name="event"),
        "unsubscribe_url": "https://example.com/unsubscribe",
        "preferences_url": "https://example.com/preferences",
    }


def message_for_sending(*, message_id: int) -> Message:
    return Message.objects.select_related("workspace", "contact__company", "template_version").get(pk=message_id)


def is_suppressed(*, workspace: Workspace, contact: Contact, address: str) -> bool:
    """Checked before every marketing send: the workspace's suppression list, and the contact's own opt-out."""
    if contact.email_consent == ConsentState.OPTED_OUT:
        return True
    return Suppression.objects.filter(workspace=workspace, address=address.strip().lower()).exists()


def message_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Message]:
    """Messages to the contacts the member may see (a rep limited to their own records sees theirs)."""
    queryset = Message.objects.for_workspace(workspace)
    if contact_selectors.sees_only_own(membership):
        queryset = queryset.filter(contact__in=contact_selectors.contact_list(workspace=workspace,
                                                                              membership=membership))
    return queryset.order_by("-id")


def template_get(*, workspace: Workspace, template_id: int) -> Template:
    try:
        # The current version is joined: queuing a message pins it and the API's answer shows its number.
        return Template.objects.for_workspace(workspace).select_related("current_version").get(pk=template_id)
    except Template.DoesNotExist as exc:
        raise NotFound("No such template.", field="template") from exc


def message_by_id(*, message_id: int) -> Message | None:
    return Message.objects.select_related("workspace", "contact").filter(pk=message_id).first()


def delivery_settings_get(*, workspace: Workspace) -> DeliverySettings:
    """The workspace's delivery settings; an unsaved default row (server default backend, no SMS) when it has none."""
    found = DeliverySettings.objects.filter(workspace=workspace).first()
    return found if found is not None else DeliverySettings(workspace=workspace)
