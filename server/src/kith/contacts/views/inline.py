"""Inline edit of one field on the contact page (HTMX): the value, a click (or Enter on its button) turns it into
an input, Enter saves, Escape cancels. Saving goes through ``services.contact_update``, so the same normalization and
validation apply as everywhere else (custom attributes through ``kith.contacts.attributes``).

Validation errors come back as the edit form with the message and status 200, because HTMX does not swap 4xx
answers by default; without HTMX a POST redirects to the contact page with the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors, services
from kith.contacts.errors import InvalidFields
from kith.contacts.models import (
    CHOICE_TYPES,
    Contact,
    FieldType,
    LeadStatus,
    LifecycleStage,
    ObjectType,
)
from kith.contacts.views._common import require_writer
from kith.core.errors import KithError, NotFound
from kith.web.views.base import MemberRequest, member_object_view, with_toast

ATTRIBUTE_PREFIX = "attr."
_INPUT_TYPES = {FieldType.NUMBER: "number", FieldType.DATE: "date"}


@dataclass(frozen=True)
class InlineField:
    name: str  # "email" or "attr.<key>"
    label: str
    input_type: str = "text"  # text, email, tel, number, date, select, multiselect
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def attribute_key(self) -> str | None:
        return self.name.removeprefix(ATTRIBUTE_PREFIX) if self.name.startswith(ATTRIBUTE_PREFIX) else None


BUILT_IN = {
    "first_name": InlineField("first_name", "First name"),
    "last_name": InlineField("last_name", "Last name"),
    "email": InlineField("email", "E-mail", "email"),
    "phone": InlineField("phone", "Phone", "tel"),
    "lifecycle_stage": InlineField("lifecycle_stage", "Lifecycle stage", "select", tuple(LifecycleStage.choices)),
    "lead_status": InlineField("lead_status", "Lead status", "select", tuple(LeadStatus.choices)),
    "timezone": InlineField("timezone", "Time zone"),
    "locale": InlineField("locale", "Language"),
    "source": InlineField("source", "Source"),
}
_BOOLEAN_CHOICES = (("", "—"), ("true", "Yes"), ("false", "No"))


# References picked from a list: the owner among the workspace's members, the company among the companies the
# member may see (the service checks both again, so a forged id is a field error, never a link across workspaces).
REFERENCES = ("owner", "company")


def _reference_fields(*, workspace: Workspace, membership: Membership | None, contact: Contact | None,
                      load: bool) -> dict[str, InlineField]:
    owners: tuple[tuple[str, str], ...] = ()
    companies: tuple[tuple[str, str], ...] = ()
    if load:
        owners = tuple((str(pk), name) for pk, name in selectors.member_choices(workspace=workspace))
        companies = tuple((str(pk), name) for pk, name in selectors.company_choices(
            workspace=workspace, membership=membership, include_id=contact.company_id if contact else None))
    return {
        "owner": InlineField("owner", "Owner", "select", (("", "— No owner —"), *owners)),
        "company": InlineField("company", "Company", "select", (("", "— No company —"), *companies)),
    }


def inline_fields(
    *, workspace: Workspace, membership: Membership | None = None, contact: Contact | None = None,
    with_references: bool = True,
) -> dict[str, InlineField]:
    """The fields the contact page edits in place: the built-ins above, the owner and company (their choices
    loaded only ``with_references``: a shown value needs none), then every contact custom field."""
    fields = dict(BUILT_IN)
    fields.update(_reference_fields(workspace=workspace, membership=membership, contact=contact,
                                    load=with_references))
    definitions = selectors.custom_field_definitions_by_key(workspace=workspace, object_type=ObjectType.CONTACT)
    for definition in sorted(definitions.values(), key=lambda d: d.label.casefold()):
        if definition.field_type == FieldType.BOOLEAN:
            input_type, choices = "select", _BOOLEAN_CHOICES
        elif definition.field_type in CHOICE_TYPES:
            input_type = "multiselect" if definition.field_type == FieldType.MULTI_CHOICE else "select"
            choices = tuple((c, c) for c in definition.choices)
            if input_type == "select":
                choices = (("", "—"), *choices)
        else:
            input_type, choices = _INPUT_TYPES.get(FieldType(definition.field_type), "text"), ()
        name = f"{ATTRIBUTE_PREFIX}{definition.key}"
        fields[name] = InlineField(name, definition.label, input_type, choices)
    return fields


def field_value(contact: Contact, field: InlineField) -> Any:
    key = field.attribute_key
    if field.name in REFERENCES:
        pk = getattr(contact, f"{field.name}_id")
        return "" if pk is None else str(pk)  # as the select's option values
    return contact.attributes.get(key) if key is not None else getattr(contact, field.name)


def field_shown(contact: Contact, field: InlineField) -> str:
    if field.name == "owner":
        return contact.owner.display_name if contact.owner_id else "—"
    if field.name == "company":
        return contact.company.name if contact.company_id else "—"
    value = field_value(contact, field)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if field.input_type == "select" and field.attribute_key is None:
        return dict(field.choices).get(value, value) or "—"
    return "—" if value is None or value == "" else str(value)


def field_rows(contact: Contact, *, workspace: Workspace) -> list[dict[str, Any]]:
    """What the Details card lists: each editable field with its shown value."""
    return [{"field": field, "shown": field_shown(contact, field)}
            for field in inline_fields(workspace=workspace, contact=contact, with_references=False).values()]


def _render(request: MemberRequest, contact: Contact, field: InlineField, *, editing: bool,
            errors: list[str] | None = None, raw: Any = None) -> HttpResponse:
    value = field_value(contact, field) if raw is None else raw
    if isinstance(value, bool):
        value = "true" if value else "false"
    context = {"contact": contact, "field": field, "shown": field_shown(contact, field), "editing": editing,
               "errors": errors or [], "value": value if value is not None else "",
               "can_write": request.membership.can_write}
    # ?in=list: the owner or company cell of the contacts list (a compact form), else the Details card's row.
    in_list = request.GET.get("in") == "list" and field.name in REFERENCES
    return render(request, "contacts/_cell.html" if in_list else "contacts/_field.html", context)


def _posted_value(request: MemberRequest, field: InlineField) -> Any:
    if field.input_type == "multiselect":
        return request.POST.getlist("value")
    return request.POST.get("value", "").strip()


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_field(request: MemberRequest, pk: int, name: str) -> HttpResponse:
    contact = selectors.contact_get(workspace=request.workspace, membership=request.membership, contact_id=pk)
    editing = request.method == "POST" or request.GET.get("edit") == "1"
    field = inline_fields(workspace=request.workspace, membership=request.membership, contact=contact,
                          with_references=editing).get(name)
    if field is None:
        raise NotFound("No such field.")
    if request.method == "GET":
        return _render(request, contact, field, editing=request.GET.get("edit") == "1"
                       and request.membership.can_write)
    require_writer(request)
    raw = _posted_value(request, field)
    key = field.attribute_key
    data = {"attributes": {key: raw}} if key is not None else {field.name: raw}
    try:
        contact = services.contact_update(contact=contact, actor=request.user, data=data,
                                          membership=request.membership)
    except KithError as exc:
        errors = (exc.errors if isinstance(exc, InvalidFields) else {None: [exc.message]})
        flat = [message for messages_ in errors.values() for message in messages_]
        if not request.htmx:
            messages.error(request, f"{field.label}: {' '.join(flat)}")
            return redirect("web:contact_detail", pk=contact.pk)
        return _render(request, contact, field, editing=True, errors=flat, raw=raw)
    fresh = selectors.contact_get(workspace=request.workspace, membership=None, contact_id=contact.pk)
    if not request.htmx:
        messages.success(request, f"{field.label} saved.")
        return redirect("web:contact_detail", pk=contact.pk)
    return with_toast(_render(request, fresh, field, editing=False), f"{field.label} saved.")
