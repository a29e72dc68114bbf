"""Writes of tags: the workspace's vocabulary, and tagging contacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction

from kith.accounts.models import Workspace
from kith.contacts import selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.hooks import contacts_changed
from kith.contacts.models import Contact, ContactTag, Tag
from kith.contacts.services._common import tag_names_clean
from kith.core.audit import audit_record, diff, snapshot
from kith.webhooks.payloads import contact_tag_data
from kith.webhooks.services import webhook_emit_many


def tags_get_or_create(*, workspace: Workspace, names: Sequence[str]) -> list[Tag]:
    """The tags named ``names`` (already cleaned by ``tag_names_clean``), creating the missing ones, in the order
    given. Set-based: one lookup, one insert, and one more lookup only if a concurrent writer won a race."""
    found = selectors.tags_by_key(workspace=workspace, names=names)
    missing = {Tag.key_for(n): n for n in names if Tag.key_for(n) not in found}
    if missing:
        # ignore_conflicts: a concurrent request may create the same tag; the unique key makes both see one row.
        Tag.objects.bulk_create(
            [Tag(workspace=workspace, name=name, name_key=key) for key, name in missing.items()],
            ignore_conflicts=True,
        )
        found = selectors.tags_by_key(workspace=workspace, names=names)
    return [found[Tag.key_for(n)] for n in names]


def _name_clean(name: Any) -> str:
    if name is None or (isinstance(name, str) and not name.strip()):
        raise InvalidFields({"name": ["A tag needs a name."]})
    return tag_names_clean([name], field="name")[0]


@transaction.atomic
def tag_create(*, workspace: Workspace, actor: Any, name: str) -> Tag:
    name = _name_clean(name)
    if selectors.tags_by_key(workspace=workspace, names=[name]):
        raise InvalidFields({"name": ["A tag with this name already exists."]})
    try:
        with transaction.atomic():
            tag = Tag.objects.create(workspace=workspace, name=name, name_key=Tag.key_for(name))
    except IntegrityError as exc:
        raise InvalidFields({"name": ["A tag with this name already exists."]}) from exc
    audit_record(action="tag.created", actor=actor, workspace=workspace, target=tag, after=snapshot(tag, ["name"]))
    return tag


@transaction.atomic
def tag_rename(*, tag: Tag, actor: Any, name: str) -> Tag:
    """Rename ``tag``; a change of case only ("vip" → "VIP") is allowed, a clash with another tag is not."""
    name = _name_clean(name)
    key = Tag.key_for(name)
    if Tag.objects.filter(workspace_id=tag.workspace_id, name_key=key).exclude(pk=tag.pk).exists():
        raise InvalidFields({"name": ["Another tag has this name."]})
    before = snapshot(tag, ["name"])
    tag.name, tag.name_key = name, key
    try:
        with transaction.atomic():
            tag.save(update_fields=["name", "name_key", "updated_at"])
    except IntegrityError as exc:
        raise InvalidFields({"name": ["Another tag has this name."]}) from exc
    old, new = diff(before, snapshot(tag, ["name"]))
    if new:
        audit_record(action="tag.updated", actor=actor, workspace=tag.workspace, target=tag, before=old, after=new)
    return tag


@transaction.atomic
def tag_delete(*, tag: Tag, actor: Any) -> None:
    """Delete ``tag`` and take it off every contact."""
    tagged = ContactTag.objects.filter(tag=tag).count()
    audit_record(action="tag.deleted", actor=actor, workspace=tag.workspace, target=tag,
                 before={"name": tag.name, "contacts": tagged})
    tag.delete()


@transaction.atomic
def contact_add_tags(*, contact: Contact, actor: Any, names: Sequence[str]) -> list[Tag]:
    """Tag ``contact`` with ``names`` (created when new); return the tags it did not have before.

    Only the tags really added are audited, so a retried call records nothing twice; later, each added tag is
    what a "tag added" workflow trigger fires on.
    """
    cleaned = tag_names_clean(list(names))
    if not cleaned:
        return []
    tags = tags_get_or_create(workspace=contact.workspace, names=cleaned)
    had = set(ContactTag.objects.filter(contact=contact, tag__in=tags).values_list("tag_id", flat=True))
    added = [tag for tag in tags if tag.pk not in had]
    if added:
        ContactTag.objects.bulk_create([ContactTag(contact=contact, tag=tag) for tag in added], ignore_conflicts=True)
        audit_record(action="contact.tags_added", actor=actor, workspace=contact.workspace, target=contact,
                     after={"tags": [tag.name for tag in added]})
        webhook_emit_many(workspace=contact.workspace, events=[
            ("contact.tag_added", contact_tag_data(contact, tag=tag.name)) for tag in added])
        contacts_changed(workspace=contact.workspace, contact_ids=[contact.pk])
    return added


@transaction.atomic
def contact_remove_tags(*, contact: Contact, actor: Any, names: Sequence[str]) -> list[Tag]:
    """Take ``names`` off ``contact``; names it does not carry are ignored. Return the tags removed."""
    cleaned = tag_names_clean(list(names))
    found = selectors.tags_by_key(workspace=contact.workspace, names=cleaned)
    links = ContactTag.objects.filter(contact=contact, tag__in=found.values()).select_related("tag")
    removed = [link.tag for link in links]
    if removed:
        ContactTag.objects.filter(pk__in=[link.pk for link in links]).delete()
        audit_record(action="contact.tags_removed", actor=actor, workspace=contact.workspace, target=contact,
                     before={"tags": [tag.name for tag in removed]})
        webhook_emit_many(workspace=contact.workspace, events=[
            ("contact.tag_removed", contact_tag_data(contact, tag=tag.name)) for tag in removed])
        contacts_changed(workspace=contact.workspace, contact_ids=[contact.pk])
    return removed
