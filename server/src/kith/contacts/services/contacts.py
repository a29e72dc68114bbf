"""Writes of single contacts: create, update, delete and upsert. Each is one transaction with its audit row.

Inputs are mappings of field name to value as the API or an import delivers them (``company`` and ``owner`` as
ids); ``kith.contacts.validation`` and ``kith.contacts.attributes`` normalize and validate them, and every problem
is raised together as one ``InvalidFields``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.attributes import attributes_clean
from kith.contacts.errors import DuplicateRecord, FieldErrors, InvalidFields
from kith.contacts.hooks import contacts_changed
from kith.contacts.models import Company, Contact, ObjectType
from kith.contacts.services._common import (
    CONTACT_AUDIT_FIELDS,
    WriteContext,
    assign,
    consent_stamp,
    reference_id,
    reference_ids,
    write_context,
)
from kith.contacts.services.tags import contact_add_tags
from kith.contacts.validation import CONTACT_REFERENCE_FIELDS, contact_fields_clean
from kith.core import clock
from kith.core.audit import audit_record, diff, snapshot
from kith.webhooks.payloads import contact_data
from kith.webhooks.services import webhook_emit

# A contact must be findable by something; any one of these will do.
IDENTIFYING_FIELDS = ("email", "phone", "external_id", "first_name", "last_name")


def contact_values_prepare(
    *,
    ctx: WriteContext,
    raw: Mapping[str, Any],
    current: Contact | None,
    companies: Mapping[int, Company],
    member_ids: Collection[int],
) -> dict[str, Any]:
    """Validate one contact write and return the model values to assign (``owner`` as ``owner_id``).

    ``current`` is the contact being updated, ``None`` for a new one. ``companies`` and ``member_ids`` are the
    companies the writer may link and the users who may own records, looked up beforehand (one query each, also
    for a bulk request). Raises ``InvalidFields`` with every problem found.
    """
    fields, errors = contact_fields_clean(raw, phone_region=ctx.phone_region)
    values = {name: value for name, value in fields.items() if name not in CONTACT_REFERENCE_FIELDS}
    if "company" in fields:
        company = _reference(errors, "company", fields["company"], companies, "No such company in this workspace.")
        if company is not _INVALID:
            values["company"] = company
    if "owner" in fields:
        owner_id = _reference(errors, "owner", fields["owner"], {pk: pk for pk in member_ids},
                              "The owner must be a member of this workspace.")
        if owner_id is not _INVALID:
            values["owner_id"] = owner_id
    elif current is None and selectors.sees_only_own(ctx.membership):
        # A member limited to their own records would otherwise create contacts they can never see again.
        assert ctx.membership is not None
        values["owner_id"] = ctx.membership.user_id
    if "attributes" in fields or current is None:
        try:
            values["attributes"] = attributes_clean(
                definitions=ctx.definitions,
                values=fields.get("attributes", {}),
                current=None if current is None else current.attributes,
            )
        except InvalidFields as exc:
            errors.merge(exc)
    if current is None and not errors and not any(values.get(name) for name in IDENTIFYING_FIELDS):
        errors.add("email", "Give at least an e-mail address, a phone number, an external id or a name.")
    errors.raise_if_any()
    return values


_INVALID = object()


def _reference(errors: FieldErrors, field: str, raw: Any, known: Mapping[int, Any], missing: str) -> Any:
    """The object ``raw`` names among ``known``, ``None`` for none, or ``_INVALID`` after recording the error."""
    try:
        pk = reference_id(raw)
    except ValueError as exc:
        errors.add(field, str(exc))
        return _INVALID
    if pk is None:
        return None
    if pk not in known:
        errors.add(field, missing)
        return _INVALID
    return known[pk]


def _references(ctx: WriteContext, raw: Mapping[str, Any]) -> tuple[dict[int, Company], set[int]]:
    """The company and owner a single write names, looked up (at most one query each)."""
    company_ids, owner_ids = reference_ids([raw], "company"), reference_ids([raw], "owner")
    return (
        selectors.companies_by_id(workspace=ctx.workspace, membership=ctx.membership, ids=company_ids),
        selectors.member_user_ids(workspace=ctx.workspace, user_ids=owner_ids),
    )


def unique_conflicts(*, workspace: Workspace, email: str, external_id: str, exclude_pk: int | None) -> FieldErrors:
    """Field errors for an e-mail or external id that another contact of the workspace already has."""
    errors = FieldErrors()
    condition = Q()
    if email:
        condition |= Q(email=email)
    if external_id:
        condition |= Q(external_id=external_id)
    if not condition:
        return errors
    others = Contact.objects.for_workspace(workspace).filter(condition).exclude(pk=exclude_pk)
    for other in others.only("email", "external_id"):
        if email and other.email == email:
            errors.add("email", "A contact with this e-mail address already exists.")
        if external_id and other.external_id == external_id:
            errors.add("external_id", "A contact with this external id already exists.")
    return errors


def _save_unique(contact: Contact, *, update_fields: Sequence[str] | None) -> None:
    """Save, turning a lost race on the unique e-mail or external id into ``DuplicateRecord``."""
    conflicts = unique_conflicts(workspace=contact.workspace, email=contact.email,
                                 external_id=contact.external_id, exclude_pk=contact.pk)
    if conflicts:
        raise DuplicateRecord(conflicts.errors)
    try:
        with transaction.atomic():
            contact.save(update_fields=update_fields)
    except IntegrityError as exc:
        conflicts = unique_conflicts(workspace=contact.workspace, email=contact.email,
                                     external_id=contact.external_id, exclude_pk=contact.pk)
        if conflicts:
            raise DuplicateRecord(conflicts.errors) from exc
        raise


@transaction.atomic
def contact_create(
    *,
    workspace: Workspace,
    actor: Any,
    data: Mapping[str, Any],
    tags: Sequence[str] = (),
    membership: Membership | None = None,
) -> Contact:
    """Create a contact from ``data`` (see ``contact_values_prepare``) and tag it with ``tags``.

    ``membership`` is the writer's (``None`` for API keys and the system): a member limited to their own records
    becomes the owner unless ``data`` names one, and may link only companies they can see.
    Raises ``InvalidFields`` (``DuplicateRecord`` when the e-mail or external id is taken).
    """
    ctx = write_context(workspace=workspace, membership=membership, object_type=ObjectType.CONTACT)
    companies, members = _references(ctx, data)
    values = contact_values_prepare(ctx=ctx, raw=data, current=None, companies=companies, member_ids=members)
    contact = Contact(workspace=workspace)
    consent_stamp(contact, assign(contact, values), now=clock.now())
    _save_unique(contact, update_fields=None)
    audit_record(action="contact.created", actor=actor, workspace=workspace, target=contact,
                 after=snapshot(contact, CONTACT_AUDIT_FIELDS))
    if tags:
        contact_add_tags(contact=contact, actor=actor, names=tags)
    webhook_emit(workspace=workspace, event_type="contact.created", data=contact_data(contact))
    contacts_changed(workspace=workspace, contact_ids=[contact.pk])
    return contact


@transaction.atomic
def contact_update(
    *, contact: Contact, actor: Any, data: Mapping[str, Any], membership: Membership | None = None
) -> Contact:
    """Change the fields named in ``data``; others keep their values. ``attributes`` are merged key by key (a
    ``null`` value removes one). The row is locked first, so concurrent partial updates do not lose each other's
    attributes. Audited with the before/after values of the fields that changed; a no-op writes nothing.
    """
    # of=self: lock the row, not the joined workspace (which would serialize every write in the workspace).
    locked = Contact.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=contact.pk)
    ctx = write_context(workspace=locked.workspace, membership=membership, object_type=ObjectType.CONTACT)
    companies, members = _references(ctx, data)
    values = contact_values_prepare(ctx=ctx, raw=data, current=locked, companies=companies, member_ids=members)
    before = snapshot(locked, CONTACT_AUDIT_FIELDS)
    changed = consent_stamp(locked, assign(locked, values), now=clock.now())
    if changed:
        _save_unique(locked, update_fields=[*changed, "updated_at"])
        old, new = diff(before, snapshot(locked, CONTACT_AUDIT_FIELDS))
        audit_record(action="contact.updated", actor=actor, workspace=locked.workspace, target=locked,
                     before=old, after=new)
        webhook_emit(workspace=locked.workspace, event_type="contact.updated",
                     data=contact_data(locked, changed=list(new)))
        contacts_changed(workspace=locked.workspace, contact_ids=[locked.pk])
    return locked


@transaction.atomic
def contact_delete(*, contact: Contact, actor: Any) -> None:
    """Delete ``contact`` (its tags go with it; the audit row keeps what it held)."""
    audit_record(action="contact.deleted", actor=actor, workspace=contact.workspace, target=contact,
                 before=snapshot(contact, CONTACT_AUDIT_FIELDS))
    webhook_emit(workspace=contact.workspace, event_type="contact.deleted", data=contact_data(contact))
    contact.delete()


def upsert_match(
    *, workspace: Workspace, membership: Membership | None, email: str, external_id: str
) -> Contact | None:
    """The contact an upsert with this (normalized) e-mail and external id updates, or ``None`` to create one.
    Locks the rows it looks at; see ``match_among`` for the rules."""
    if not email and not external_id:
        return None
    condition = (Q(email=email) if email else Q()) | (Q(external_id=external_id) if external_id else Q())
    rows = list(Contact.objects.for_workspace(workspace).select_for_update().filter(condition))
    return match_among(rows, membership=membership, email=email, external_id=external_id)


def match_among(
    rows: Sequence[Contact], *, membership: Membership | None, email: str, external_id: str
) -> Contact | None:
    """Pick the upsert target among ``rows`` (every contact sharing the e-mail or the external id).

    The external id wins when both are given. An e-mail and an external id that point at two different contacts,
    or an e-mail whose contact already has another external id, are conflicts rather than guesses. A match the
    writer may not see is refused, never silently updated. Raises ``InvalidFields``.
    """
    by_external = next((c for c in rows if external_id and c.external_id == external_id), None)
    by_email = next((c for c in rows if email and c.email == email), None)
    if by_external and by_email and by_external.pk != by_email.pk:
        raise InvalidFields({"email": ["This e-mail address belongs to another contact than the external id."]})
    if by_external is None and by_email is not None and external_id and by_email.external_id:
        raise InvalidFields({"external_id": ["The contact with this e-mail address has another external id."]})
    match = by_external or by_email
    if match is not None and selectors.sees_only_own(membership):
        assert membership is not None
        if match.owner_id != membership.user_id:
            field = "external_id" if by_external else "email"
            raise InvalidFields({field: ["This contact exists and is assigned to another member."]})
    return match


@transaction.atomic
def contact_upsert(
    *,
    workspace: Workspace,
    actor: Any,
    data: Mapping[str, Any],
    tags: Sequence[str] = (),
    membership: Membership | None = None,
) -> tuple[Contact, bool]:
    """Update the contact matching ``data``'s external id or e-mail (see ``upsert_match``), or create it.

    Returns the contact and whether it was created. Used by the API, and by imports and the event API, so that
    replaying the same input converges on one row. Two concurrent upserts of a new address both try to insert;
    the loser sees ``DuplicateRecord`` and retries as an update of the winner's row.
    """
    keys, errors = contact_fields_clean(
        {name: data[name] for name in ("email", "external_id") if name in data}, phone_region=""
    )
    errors.raise_if_any()
    email, external_id = keys.get("email", ""), keys.get("external_id", "")
    match = upsert_match(workspace=workspace, membership=membership, email=email, external_id=external_id)
    if match is None:
        try:
            with transaction.atomic():
                return contact_create(workspace=workspace, actor=actor, data=data, tags=tags,
                                      membership=membership), True
        except DuplicateRecord:
            match = upsert_match(workspace=workspace, membership=membership, email=email, external_id=external_id)
            if match is None:
                raise
    contact = contact_update(contact=match, actor=actor, data=data, membership=membership)
    if tags:
        contact_add_tags(contact=contact, actor=actor, names=tags)
    return contact, False
