"""Merging a duplicate contact into another, and undoing that.

``contact_merge`` re-points every row that references the loser at the winner in one transaction. The relations are
found by introspection (``_relations.contact_relations``), so foreign keys that later apps add are moved without
this module knowing them. Rows that cannot move because the winner already has an equal one under a unique
constraint — a tag both carried, a message of a campaign both received (the ledger allows one per source and
contact) — are not thrown away: they are serialized into the ``ContactMerge`` record (``set_aside``) when the loser
is deleted, and ``contact_merge_undo`` re-inserts them. Everything else needed to undo is recorded too: the loser's
row, the ids of every moved row per relation, and the winner fields the merge changed with their old values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction

from kith.accounts.models import Membership
from kith.contacts import selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.hooks import contacts_changed
from kith.contacts.models import ConsentState, Contact, ContactMerge
from kith.contacts.services._common import CONTACT_AUDIT_FIELDS
from kith.contacts.services._relations import (
    conflicting_ids,
    contact_relations,
    deserialize_rows,
    relation_by_key,
    serialize_rows,
    set_aside_collect,
    set_aside_restore,
)
from kith.contacts.services.contacts import unique_conflicts
from kith.core import clock
from kith.core.audit import _json_safe, actor_fields, audit_record, snapshot
from kith.core.errors import Conflict, PermissionDenied
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record

# The fields a person may pick per side when merging (``field_choices``); the rest follow them (consent times) or
# are combined (attributes, tags, every related row).
MERGE_FIELDS = (
    "first_name", "last_name", "email", "phone", "company", "owner", "lifecycle_stage", "lead_status", "timezone",
    "locale", "email_consent", "sms_consent", "external_id", "source", "engagement_score", "last_seen_at",
)
CHOICES = ("winner", "loser")


def merge_allowed(membership: Membership | None) -> bool:
    """Who may merge: every member who may write (an API key with write scope passes ``membership=None``). Which
    contacts they may merge is decided by visibility: a rep limited to their own records reaches only those."""
    return membership is None or membership.can_write


def _is_empty(value: Any) -> bool:
    return value is None or value == ""


def _default_side(field: str, winner: Contact, loser: Contact) -> str:
    """Which side's value a field keeps when the person did not choose: the winner's, unless it is empty. Two
    exceptions favour the safe or the true value: an opt-out on either side wins (never mail someone who said no
    under their other address), and the later "last seen" time is the true one."""
    mine, theirs = getattr(winner, field if field not in ("company", "owner") else f"{field}_id"), \
        getattr(loser, field if field not in ("company", "owner") else f"{field}_id")
    if field in ("email_consent", "sms_consent"):
        if ConsentState.OPTED_OUT in (mine, theirs):
            return "winner" if mine == ConsentState.OPTED_OUT else "loser"
        return "loser" if mine == ConsentState.UNKNOWN and theirs != ConsentState.UNKNOWN else "winner"
    if field == "last_seen_at":
        return "loser" if theirs is not None and (mine is None or theirs > mine) else "winner"
    if field == "engagement_score":
        return "loser" if theirs > mine else "winner"
    return "loser" if _is_empty(mine) and not _is_empty(theirs) else "winner"


def merge_plan(*, winner: Contact, loser: Contact, field_choices: Mapping[str, str] | None = None) -> dict[str, str]:
    """The side each field's value comes from (``"winner"``/``"loser"``): ``field_choices`` where given, the
    defaults of ``_default_side`` elsewhere, and ``attributes`` (whose keys are combined; the chosen side wins a key
    both have). Raises ``InvalidFields`` for an unknown field or side."""
    choices = dict(field_choices or {})
    errors = {name: ["Not a field that can be chosen when merging."] for name in choices
              if name not in (*MERGE_FIELDS, "attributes")}
    errors |= {name: ["Choose winner or loser."] for name, side in choices.items()
               if name not in errors and side not in CHOICES}
    if errors:
        raise InvalidFields(errors)
    plan = {field: choices.get(field) or _default_side(field, winner, loser) for field in MERGE_FIELDS}
    plan["attributes"] = choices.get("attributes", "winner")
    return plan


def _new_values(winner: Contact, loser: Contact, plan: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field in MERGE_FIELDS:
        attname = Contact._meta.get_field(field).attname
        if plan[field] == "loser":
            values[attname] = getattr(loser, attname)
    for channel in ("email", "sms"):
        if f"{channel}_consent" in values:  # the consent time belongs to the state it proves
            values[f"{channel}_consent_changed_at"] = getattr(loser, f"{channel}_consent_changed_at")
    first, second = (loser, winner) if plan["attributes"] == "winner" else (winner, loser)
    values["attributes"] = {**first.attributes, **second.attributes}
    return {name: value for name, value in values.items() if getattr(winner, name) != value}


def _field_json(contact: Contact, attname: str) -> Any:
    return _json_safe(getattr(contact, attname))


def _field_value(attname: str, raw: Any) -> Any:
    field = next(f for f in Contact._meta.concrete_fields if f.attname == attname)
    return raw if raw is None or field.get_internal_type() == "JSONField" else field.to_python(raw)


def _locked_pair(winner: Contact, loser: Contact) -> tuple[Contact, Contact]:
    # Both rows locked in id order, so two merges of the same pair in opposite directions cannot deadlock.
    rows = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=sorted({winner.pk, loser.pk}))
            .order_by("pk")}
    if winner.pk not in rows or loser.pk not in rows:
        raise Conflict("One of the contacts was deleted or merged meanwhile.")
    return rows[winner.pk], rows[loser.pk]


def _move_rows(*, winner: Contact, loser: Contact) -> dict[str, list[Any]]:
    moved: dict[str, list[Any]] = {}
    for relation in contact_relations():
        manager = relation.model._base_manager
        attname = relation.field.attname
        conflicts = conflicting_ids(relation, loser_id=loser.pk, winner_id=winner.pk)
        ids = list(manager.filter(**{attname: loser.pk}).exclude(pk__in=conflicts).order_by("pk")
                   .values_list("pk", flat=True))
        if not ids:
            continue
        try:
            with transaction.atomic():
                manager.filter(pk__in=ids).update(**{attname: winner.pk})
        except IntegrityError as exc:
            # A unique rule this module cannot read (an expression constraint): refuse rather than guess.
            raise Conflict(f"The duplicate's {relation.model._meta.verbose_name_plural} clash with the other "
                           "contact's; the contacts cannot be merged.") from exc
        moved[relation.key] = ids
    return moved


@transaction.atomic
def contact_merge(
    *,
    winner: Contact,
    loser: Contact,
    actor: Any,
    field_choices: Mapping[str, str] | None = None,
    membership: Membership | None = None,
) -> ContactMerge:
    """Merge ``loser`` into ``winner`` and delete ``loser``; return the record that ``contact_merge_undo`` takes.

    ``field_choices`` maps fields of ``MERGE_FIELDS`` (and ``attributes``) to ``"winner"`` or ``"loser"``; see
    ``merge_plan`` for the defaults. Tags, attributes and every related row end up on the winner. Both contacts must
    be visible to ``membership`` (``NotFound`` otherwise) and in one workspace (``InvalidFields``).
    """
    if not merge_allowed(membership):
        raise PermissionDenied("Viewers cannot merge contacts.")
    if winner.workspace_id != loser.workspace_id:
        raise InvalidFields({"loser": ["The contacts belong to different workspaces."]})
    if winner.pk == loser.pk:
        raise InvalidFields({"loser": ["A contact cannot be merged into itself."]})
    for contact in (winner, loser):
        selectors.contact_get(workspace=contact.workspace, membership=membership, contact_id=contact.pk)
    winner, loser = _locked_pair(winner, loser)
    plan = merge_plan(winner=winner, loser=loser, field_choices=field_choices)
    changes = _new_values(winner, loser, plan)
    before = snapshot(winner, CONTACT_AUDIT_FIELDS)
    loser_id, label = loser.pk, str(loser)[:255]
    loser_row = serialize_rows([loser])[0]

    moved = _move_rows(winner=winner, loser=loser)
    set_aside, nulled = set_aside_collect(loser)
    # The loser goes before the winner takes its values: its e-mail and external id are unique in the workspace.
    loser.delete()
    if changes:
        # updated_at is recorded too, so an undo with nothing edited since leaves the winner exactly as it was.
        changes["updated_at"] = clock.now()
    old = {name: _field_json(winner, name) for name in changes}
    for name, value in changes.items():
        setattr(winner, name, value)
    Contact.objects.filter(pk=winner.pk).update(**changes)

    merge = ContactMerge.objects.create(
        workspace=winner.workspace, winner=winner, loser_id=loser_id, loser_label=label, loser_snapshot=loser_row,
        winner_changes={name: {"old": old[name], "new": _field_json(winner, name)} for name in changes},
        moved=moved, set_aside=set_aside, nulled=nulled, merged_by=_user(actor),
    )
    audit_record(action="contact.merged", actor=actor, workspace=winner.workspace, target=winner,
                 before={"contact": before, "merged": {"id": loser_id, **loser_row["fields"]}},
                 after={"merge": merge.pk, "changed": merge.winner_changes,
                        "moved": {key: len(ids) for key, ids in moved.items()}, "set_aside": len(set_aside)})
    activity_record(workspace=winner.workspace, kind=ActivityKind.MERGED, contact=winner, actor=actor,
                    title=f"Merged {label} into this contact", data={"merge_id": merge.pk, "loser_id": loser_id})
    contacts_changed(workspace=winner.workspace, contact_ids=[winner.pk])
    return merge


def _user(actor: Any) -> Any:
    """The person behind ``actor`` (a key's creator for an API key), for the record's "merged by"."""
    return actor_fields(actor)[0]


def merge_undo_blocker(merge: ContactMerge) -> str | None:
    """Why ``merge`` cannot be undone now, or ``None`` when it can. Checked again, under locks, by the undo."""
    if merge.undone_at is not None:
        return "This merge has already been undone."
    if merge.winner_id is None:
        return "The contact it was merged into has since been deleted or merged into another contact."
    if Contact.objects.filter(pk=merge.loser_id).exists():
        return "The merged contact exists again."
    fields = merge.loser_snapshot.get("fields", {})
    others = unique_conflicts(workspace=merge.workspace, email=fields.get("email", ""),
                              external_id=fields.get("external_id", ""), exclude_pk=merge.winner_id)
    if others:
        return "Another contact now has the merged contact's e-mail address or external id."
    winner = Contact.objects.filter(pk=merge.winner_id).values("email", "external_id").first() or {}
    for key in ("email", "external_id"):
        change = merge.winner_changes.get(key)
        after_undo = change["old"] if change and winner.get(key) == change["new"] else winner.get(key)
        if fields.get(key) and after_undo == fields.get(key):
            return f"The other contact now has the merged contact's {key.replace('_', ' ')}."
    return None


@transaction.atomic
def contact_merge_undo(*, merge: ContactMerge, actor: Any, membership: Membership | None = None) -> Contact:
    """Restore the merged contact (same id and values), move back exactly the rows the merge moved (those still on
    the winner), re-insert the rows it set aside, and give the winner back the values the merge changed — each field
    only if nobody changed it since. Returns the restored contact.

    Raises ``Conflict`` (409) when this cannot be done safely: already undone, the winner deleted or itself merged
    away since, or the contact's e-mail/external id taken by someone else meanwhile.
    """
    if not merge_allowed(membership):
        raise PermissionDenied("Viewers cannot undo merges.")
    merge = ContactMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.winner_id is not None:
        selectors.contact_get(workspace=merge.workspace, membership=membership, contact_id=merge.winner_id)
        Contact.objects.select_for_update().filter(pk=merge.winner_id).first()
    blocker = merge_undo_blocker(merge)
    if blocker:
        raise Conflict(blocker)
    winner = Contact.objects.get(pk=merge.winner_id)

    kept: list[str] = []
    restore: dict[str, Any] = {}
    for attname, change in merge.winner_changes.items():
        if attname == "updated_at":
            continue
        if _field_json(winner, attname) == change["new"]:
            restore[attname] = _field_value(attname, change["old"])
        else:
            kept.append(attname)  # changed again after the merge: the later edit stands
    if restore:
        stamp = merge.winner_changes.get("updated_at")
        untouched = not kept and stamp is not None and _field_json(winner, "updated_at") == stamp["new"]
        restore["updated_at"] = _field_value("updated_at", stamp["old"]) if untouched else clock.now()
        Contact.objects.filter(pk=winner.pk).update(**restore)
        for name, value in restore.items():
            setattr(winner, name, value)

    loser = next(deserialize_rows([merge.loser_snapshot]))
    loser.save(force_insert=True)  # raw: the row comes back exactly, timestamps and id included
    skipped = set_aside_restore(merge.set_aside, merge.nulled)
    moved_back = _move_back(merge)
    merge.undone_at, merge.undone_by = clock.now(), _user(actor)
    merge.save(update_fields=["undone_at", "undone_by", "updated_at"])
    restored = Contact.objects.get(pk=merge.loser_id)
    audit_record(action="contact.merge_undone", actor=actor, workspace=merge.workspace, target=restored,
                 after={"merge": merge.pk, "winner": winner.pk, "moved_back": moved_back,
                        "fields_restored": sorted(restore), "fields_kept": kept, "skipped": skipped})
    activity_record(workspace=merge.workspace, kind=ActivityKind.MERGED, contact=winner, actor=actor,
                    title=f"Undid the merge of {merge.loser_label}", data={"merge_id": merge.pk, "undone": True})
    activity_record(workspace=merge.workspace, kind=ActivityKind.MERGED, contact=restored, actor=actor,
                    title=f"Split out again from {winner}", data={"merge_id": merge.pk, "undone": True})
    contacts_changed(workspace=merge.workspace, contact_ids=[winner.pk, restored.pk])
    return restored


def _move_back(merge: ContactMerge) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key, ids in merge.moved.items():
        relation = relation_by_key(key)
        if relation is None:  # the app that held these rows was removed since
            continue
        attname = relation.field.attname
        try:
            with transaction.atomic():
                counts[key] = relation.model._base_manager.filter(pk__in=ids, **{attname: merge.winner_id}).update(
                    **{attname: merge.loser_id})
        except IntegrityError as exc:
            raise Conflict(f"The {relation.model._meta.verbose_name_plural} moved by this merge cannot go back; "
                           "the merge cannot be undone.") from exc
    return counts
