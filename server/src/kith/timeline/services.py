"""Writes to the timeline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import nh3
from django.db import transaction

from kith.accounts.models import Role
from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import KithError, PermissionDenied
from kith.core.models import AuditEntry
from kith.timeline.models import MANUAL_KINDS, Activity, ActivityKind

# Who may change or delete a note, call or meeting someone else logged: the roles that see every record
# (``kith.contacts.selectors.FULL_VISIBILITY_ROLES``).
_EDIT_ANY_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})

# Rich text people may use in notes; everything else (scripts, styles, event handlers, iframes) is stripped.
NOTE_TAGS = {"p", "br", "strong", "b", "em", "i", "u", "s", "ul", "ol", "li", "a", "blockquote", "code", "pre",
             "h3", "h4"}
NOTE_MAX_CHARS = 100_000


def sanitize_note_html(html: str) -> str:
    return nh3.clean(html, tags=NOTE_TAGS, attributes={"a": {"href", "title"}}, link_rel="noopener noreferrer nofollow",
                     url_schemes={"http", "https", "mailto", "tel"})


def activity_record(
    *,
    workspace: Any,
    kind: str,
    title: str,
    contact: Any = None,
    company: Any = None,
    actor: Any = None,
    body: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
    deal: Any = None,
) -> Activity:
    """Append one system activity. Callers run it inside their own transaction so the entry commits with the change
    it describes."""
    return Activity.objects.create(
        workspace=workspace,
        kind=kind,
        title=title[:255],
        contact=contact,
        company=company,
        deal=deal,
        actor=actor if getattr(actor, "is_authenticated", False) and not getattr(actor, "is_api_key", False) else None,
        body=body,
        data=data or {},
        occurred_at=occurred_at or clock.now(),
    )


@transaction.atomic
def activity_log_manual(
    *,
    workspace: Any,
    actor: Any,
    kind: str,
    title: str,
    body: str = "",
    contact: Any = None,
    company: Any = None,
    occurred_at: dt.datetime | None = None,
    deal: Any = None,
) -> Activity:
    """A note, call or meeting logged by a person on a contact, company and/or deal. The body is sanitized HTML."""
    if kind not in MANUAL_KINDS:
        raise KithError(f"Log one of: {', '.join(sorted(MANUAL_KINDS))}.", field="kind")
    if contact is None and company is None and deal is None:
        raise KithError("Attach the entry to a contact, a company or a deal.", field="contact")
    if len(body) > NOTE_MAX_CHARS:
        raise KithError(f"Keep the text under {NOTE_MAX_CHARS:,} characters.", field="body")
    title = title.strip() or ActivityKind(kind).label
    activity = activity_record(workspace=workspace, kind=kind, title=title, contact=contact, company=company,
                               actor=actor, body=sanitize_note_html(body), occurred_at=occurred_at, deal=deal)
    audit_record(action="activity.created", actor=actor, workspace=workspace, target=activity,
                 after=snapshot(activity, ["kind", "title", "contact", "company", "deal"]))
    return activity


@dataclass(frozen=True)
class ManualEntry:
    """One note, call or meeting for ``activity_log_many``: the fields of ``activity_log_manual``."""

    kind: str
    title: str = ""
    body: str = ""
    contact: Any = None
    company: Any = None
    deal: Any = None
    occurred_at: dt.datetime | None = None


@transaction.atomic
def activity_log_many(*, workspace: Any, actor: Any, entries: Sequence[ManualEntry]) -> list[Activity]:
    """Log many notes, calls and meetings at once with the rules of ``activity_log_manual`` (sanitized text, a
    subject, audited): one INSERT of the entries and one of their audit rows. Raises ``KithError`` on the first
    bad entry, before anything is written."""
    # Imported here: kith.contacts.services imports this module.
    from kith.contacts.services._common import audit_entry_build

    now = clock.now()
    person = actor if getattr(actor, "is_authenticated", False) and not getattr(actor, "is_api_key", False) else None
    rows: list[Activity] = []
    for entry in entries:
        if entry.kind not in MANUAL_KINDS:
            raise KithError(f"Log one of: {', '.join(sorted(MANUAL_KINDS))}.", field="kind")
        if entry.contact is None and entry.company is None and entry.deal is None:
            raise KithError("Attach the entry to a contact, a company or a deal.", field="contact")
        if len(entry.body) > NOTE_MAX_CHARS:
            raise KithError(f"Keep the text under {NOTE_MAX_CHARS:,} characters.", field="body")
        rows.append(Activity(workspace=workspace, kind=entry.kind,
                             title=(entry.title.strip() or ActivityKind(entry.kind).label)[:255],
                             body=sanitize_note_html(entry.body), contact=entry.contact, company=entry.company,
                             deal=entry.deal, actor=person, occurred_at=entry.occurred_at or now))
    Activity.objects.bulk_create(rows)
    AuditEntry.objects.bulk_create([
        audit_entry_build(action="activity.created", actor=actor, workspace=workspace, target=row,
                          after=snapshot(row, ["kind", "title", "contact", "company", "deal"])) for row in rows])
    return rows


def _check_changeable(activity: Activity, membership: Any) -> None:
    """System entries are history and never change. A note, call or meeting changes only through its author or
    someone who sees every record (owner, admin, manager); API keys (``membership=None``) act for the workspace."""
    if activity.kind not in MANUAL_KINDS:
        raise KithError("System entries are part of the record and cannot be changed or deleted.")
    if membership is not None and membership.role not in _EDIT_ANY_ROLES and activity.actor_id != membership.user_id:
        raise PermissionDenied("Only the person who logged this entry, or a manager, can change it.")


@transaction.atomic
def activity_update(*, activity: Activity, actor: Any, data: dict[str, Any], membership: Any = None) -> Activity:
    """Change a note, call or meeting: ``kind`` (among the logged kinds), ``title``, ``body`` (sanitized again)
    and ``occurred_at``. The subjects an entry is attached to never change; log a new entry instead."""
    _check_changeable(activity, membership)
    before = snapshot(activity, ["kind", "title", "body", "occurred_at"])
    if "kind" in data:
        if data["kind"] not in MANUAL_KINDS:
            raise KithError(f"Log one of: {', '.join(sorted(MANUAL_KINDS))}.", field="kind")
        activity.kind = data["kind"]
    if "body" in data:
        if len(data["body"]) > NOTE_MAX_CHARS:
            raise KithError(f"Keep the text under {NOTE_MAX_CHARS:,} characters.", field="body")
        activity.body = sanitize_note_html(data["body"])
    if "title" in data:
        activity.title = (data["title"].strip() or ActivityKind(activity.kind).label)[:255]
    if data.get("occurred_at") is not None:
        activity.occurred_at = data["occurred_at"]
    after = snapshot(activity, ["kind", "title", "body", "occurred_at"])
    if after != before:
        activity.save(update_fields=["kind", "title", "body", "occurred_at", "updated_at"])
        audit_record(action="activity.updated", actor=actor, workspace=activity.workspace, target=activity,
                     before=before, after=after)
    return activity


@transaction.atomic
def activity_delete(*, activity: Activity, actor: Any, membership: Any = None) -> None:
    _check_changeable(activity, membership)
    audit_record(action="activity.deleted", actor=actor, workspace=activity.workspace, target=activity,
                 before=snapshot(activity, ["kind", "title", "body", "contact", "company", "deal"]))
    activity.delete()
