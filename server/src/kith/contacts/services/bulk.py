"""Bulk upsert of contacts: up to ``MAX_BULK_ITEMS`` in one request, a result per item, good items saved even when
others fail.

Set-based: one query finds every existing contact the batch names (by e-mail or external id), one each resolves
companies and owners, then one ``bulk_create``, one ``bulk_update`` (batched), one pass for tags and one insert of
audit rows, whatever the batch size. Each item follows the same rules as ``contact_upsert`` and emits the same
outgoing webhooks, queued for the batch at once (``webhook_emit_many``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.bulk import (
    MAX_BULK_ITEMS,  # noqa: F401  (re-exported by kith.contacts.services)
    BulkItemResult,
    BulkStatus,  # noqa: F401  (re-exported)
    bulk_error,
    bulk_saved_status,
    bulk_size_check,
    insert_all_or_each,
    update_all_or_each,
)
from kith.contacts.errors import InvalidFields
from kith.contacts.hooks import contacts_changed
from kith.contacts.models import Contact, ContactTag, ObjectType, Tag
from kith.contacts.services._common import (
    CONTACT_AUDIT_FIELDS,
    WriteContext,
    assign,
    audit_entry_build,
    consent_stamp,
    reference_ids,
    tag_names_clean,
    write_context,
)
from kith.contacts.services.contacts import contact_values_prepare, match_among
from kith.contacts.services.tags import tags_get_or_create
from kith.contacts.validation import contact_fields_clean
from kith.core import clock
from kith.core.audit import diff, snapshot
from kith.core.models import AuditEntry
from kith.webhooks.payloads import contact_data, contact_tag_data
from kith.webhooks.services import webhook_emit_many

RACE_LOST_MESSAGE = ("Another request took this e-mail address or external id meanwhile; send this item again to "
                     "see the current state.")


@dataclass
class _Item:
    index: int
    raw: dict[str, Any]
    tags: list[str]
    email: str
    external_id: str
    contact: Contact | None = None
    created: bool = False
    changed: list[str] = field(default_factory=list)
    before: dict[str, Any] | None = None
    tags_added: list[str] = field(default_factory=list)


@transaction.atomic
def contact_bulk_upsert(
    *,
    workspace: Workspace,
    actor: Any,
    items: Sequence[Mapping[str, Any]],
    membership: Membership | None = None,
) -> list[BulkItemResult]:
    """Upsert each of ``items`` (contact fields as for ``contact_upsert``, plus an optional ``tags`` list to add).

    Returns one result per item, in order: created, updated, unchanged, or error with its field errors. Two items
    of one request naming the same contact are refused from the second on, so the outcome never depends on order
    within a request. Raises ``InvalidFields`` only for the request as a whole (more than ``MAX_BULK_ITEMS``).
    """
    bulk_size_check(items)
    ctx = write_context(workspace=workspace, membership=membership, object_type=ObjectType.CONTACT)
    results: dict[int, BulkItemResult] = {}
    pending = _parse(items, results)
    existing = _existing(workspace, pending)
    companies = selectors.companies_by_id(workspace=workspace, membership=membership,
                                          ids=reference_ids((i.raw for i in pending), "company"))
    members = selectors.member_user_ids(workspace=workspace, user_ids=reference_ids((i.raw for i in pending), "owner"))
    prepared = _prepare(ctx, pending, existing, companies, members, results)
    _insert([i for i in prepared if i.created], results)
    _update([i for i in prepared if not i.created and i.changed], results)
    saved = [i for i in prepared if i.index not in results]
    _tag(workspace, [i for i in saved if i.tags])
    _audit(workspace, actor, saved)
    _webhooks(workspace, saved)
    contacts_changed(workspace=workspace, contact_ids=[i.contact.pk for i in saved if i.contact is not None
                                                        and (i.created or i.changed or i.tags_added)])
    for item in saved:
        assert item.contact is not None
        status = bulk_saved_status(created=item.created, changed=bool(item.changed or item.tags_added))
        results[item.index] = BulkItemResult(index=item.index, status=status, id=item.contact.pk)
    return [results[index] for index in range(len(items))]


_error = bulk_error


def _parse(items: Sequence[Mapping[str, Any]], results: dict[int, BulkItemResult]) -> list[_Item]:
    """Split off tags and normalize each item's matching keys; refuse items naming a key an earlier item named."""
    pending: list[_Item] = []
    seen: dict[tuple[str, str], int] = {}
    for index, raw in enumerate(items):
        if not isinstance(raw, Mapping):
            _error(results, index, {"non_field_errors": ["Expected an object of contact fields."]})
            continue
        data = {name: value for name, value in raw.items() if name != "tags"}
        try:
            tags = tag_names_clean(raw["tags"]) if raw.get("tags") is not None else []
        except InvalidFields as exc:
            _error(results, index, exc.errors)
            continue
        keys, errors = contact_fields_clean(
            {name: data[name] for name in ("email", "external_id") if name in data}, phone_region=""
        )
        if errors:
            _error(results, index, errors.errors)
            continue
        item = _Item(index=index, raw=data, tags=tags, email=keys.get("email", ""),
                     external_id=keys.get("external_id", ""))
        duplicate = next((seen[k] for k in _keys(item) if k in seen), None)
        if duplicate is not None:
            field_name = "external_id" if ("external_id", item.external_id) in seen else "email"
            _error(results, index, {field_name: [f"Item {duplicate} of this request names the same contact."]})
            continue
        seen.update({k: index for k in _keys(item)})
        pending.append(item)
    return pending


def _keys(item: _Item) -> list[tuple[str, str]]:
    return [(name, value) for name, value in (("email", item.email), ("external_id", item.external_id)) if value]


def _existing(workspace: Workspace, pending: Sequence[_Item]) -> list[Contact]:
    """Every contact sharing an e-mail or external id with the batch, locked, in one query."""
    emails = {i.email for i in pending if i.email}
    external_ids = {i.external_id for i in pending if i.external_id}
    if not emails and not external_ids:
        return []
    condition = Q(email__in=emails) | Q(external_id__in=external_ids)
    return list(Contact.objects.for_workspace(workspace).select_for_update().filter(condition))


def _prepare(
    ctx: WriteContext,
    pending: Sequence[_Item],
    existing: Sequence[Contact],
    companies: Mapping[int, Any],
    members: set[int],
    results: dict[int, BulkItemResult],
) -> list[_Item]:
    """Match, validate and assign each item in memory; nothing is written yet."""
    by_email = {c.email: c for c in existing if c.email}
    by_external = {c.external_id: c for c in existing if c.external_id}
    targeted: dict[int, int] = {}  # contact pk → index of the item that writes it
    now = clock.now()
    prepared: list[_Item] = []
    for item in pending:
        rows = [c for c in (by_email.get(item.email), by_external.get(item.external_id)) if c is not None]
        try:
            match = match_among(rows, membership=ctx.membership, email=item.email, external_id=item.external_id)
            values = contact_values_prepare(ctx=ctx, raw=item.raw, current=match, companies=companies,
                                            member_ids=members)
        except InvalidFields as exc:
            _error(results, item.index, exc.errors)
            continue
        if match is not None and match.pk in targeted:
            message = f"Item {targeted[match.pk]} of this request names the same contact."
            _error(results, item.index, {"email": [message]})
            continue
        conflict = _taken(
            pk=match.pk if match is not None else None,
            email=values.get("email", match.email if match is not None else ""),
            external_id=values.get("external_id", match.external_id if match is not None else ""),
            by_email=by_email,
            by_external=by_external,
        )
        if conflict:
            _error(results, item.index, conflict)
            continue
        contact = match if match is not None else Contact(workspace=ctx.workspace)
        item.before = snapshot(contact, CONTACT_AUDIT_FIELDS) if match is not None else None
        item.changed = consent_stamp(contact, assign(contact, values), now=now)
        item.contact, item.created = contact, match is None
        if match is not None:
            targeted[match.pk] = item.index
        if item.changed and not item.created:
            contact.updated_at = now
        prepared.append(item)
    return prepared


def _taken(
    *,
    pk: int | None,
    email: str,
    external_id: str,
    by_email: Mapping[str, Contact],
    by_external: Mapping[str, Contact],
) -> dict[str, list[str]]:
    """Errors for a final e-mail or external id that another existing contact holds (an update may change them).
    Checked before anything is assigned, so a refused item leaves the loaded rows untouched for later items."""
    errors: dict[str, list[str]] = {}
    other = by_email.get(email) if email else None
    if other is not None and other.pk != pk:
        errors["email"] = ["A contact with this e-mail address already exists."]
    other = by_external.get(external_id) if external_id else None
    if other is not None and other.pk != pk:
        errors["external_id"] = ["A contact with this external id already exists."]
    return errors


def _insert(items: Sequence[_Item], results: dict[int, BulkItemResult]) -> None:
    """Insert the new contacts in one statement; only rows that lose a race for their e-mail or external id fail."""
    contacts = [i.contact for i in items if i.contact is not None]
    insert_all_or_each(contacts, lost=lambda n: _error(results, items[n].index, {"email": [RACE_LOST_MESSAGE]}))


def _update(items: Sequence[_Item], results: dict[int, BulkItemResult]) -> None:
    """Write the changed contacts with ``bulk_update``; only rows that lose a race for an e-mail or external id
    they move to fail."""
    contacts = [i.contact for i in items if i.contact is not None]
    update_all_or_each(contacts, [i.changed for i in items],
                       lost=lambda n: _error(results, items[n].index, {"email": [RACE_LOST_MESSAGE]}))


def _tag(workspace: Workspace, items: Sequence[_Item]) -> None:
    """Add each item's tags: tags created as needed, links the contacts lack inserted, all set-based."""
    if not items:
        return
    names = list({Tag.key_for(name): name for item in items for name in item.tags}.values())
    by_key = {tag.name_key: tag for tag in tags_get_or_create(workspace=workspace, names=names)}
    contact_ids = [i.contact.pk for i in items if i.contact is not None]
    had = set(ContactTag.objects.filter(contact_id__in=contact_ids, tag__in=by_key.values())
              .values_list("contact_id", "tag_id"))
    links: list[ContactTag] = []
    for item in items:
        assert item.contact is not None
        for name in item.tags:
            tag = by_key[Tag.key_for(name)]
            if (item.contact.pk, tag.pk) not in had:
                had.add((item.contact.pk, tag.pk))
                links.append(ContactTag(contact=item.contact, tag=tag))
                item.tags_added.append(tag.name)
    ContactTag.objects.bulk_create(links, ignore_conflicts=True)


def _webhooks(workspace: Workspace, items: Sequence[_Item]) -> None:
    """The events single writes emit — ``contact.created`` for each new contact, ``contact.updated`` (with
    ``changed``) for each contact whose audited fields changed, as ``contact_update`` decides — queued for the whole
    batch at once (one INSERT, one job per endpoint: ``webhook_emit_many``) — and ``contact.tag_added`` for each tag the
    item put on its contact, as ``contact_add_tags`` does."""
    events: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        contact = item.contact
        assert contact is not None
        if item.created:
            events.append(("contact.created", contact_data(contact)))
        elif item.changed:
            _, new = diff(item.before or {}, snapshot(contact, CONTACT_AUDIT_FIELDS))
            if new:
                events.append(("contact.updated", contact_data(contact, changed=list(new))))
        events += [("contact.tag_added", contact_tag_data(contact, tag=name)) for name in item.tags_added]
    webhook_emit_many(workspace=workspace, events=events)


def _audit(workspace: Workspace, actor: Any, items: Sequence[_Item]) -> None:
    entries: list[AuditEntry] = []
    for item in items:
        contact = item.contact
        assert contact is not None
        if item.created:
            entries.append(audit_entry_build(action="contact.created", actor=actor, workspace=workspace,
                                             target=contact, after=snapshot(contact, CONTACT_AUDIT_FIELDS)))
        elif item.changed:
            old, new = diff(item.before or {}, snapshot(contact, CONTACT_AUDIT_FIELDS))
            entries.append(audit_entry_build(action="contact.updated", actor=actor, workspace=workspace,
                                             target=contact, before=old, after=new))
        if item.tags_added:
            entries.append(audit_entry_build(action="contact.tags_added", actor=actor, workspace=workspace,
                                             target=contact, after={"tags": item.tags_added}))
    AuditEntry.objects.bulk_create(entries)
