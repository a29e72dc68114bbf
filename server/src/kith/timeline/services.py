"""Writes to the timeline."""

from __future__ import annotations

import datetime as dt
from typing import Any

import nh3
from django.db import transaction

from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import KithError
from kith.timeline.models import MANUAL_KINDS, Activity, ActivityKind

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


@transaction.atomic
def activity_delete(*, activity: Activity, actor: Any) -> None:
    if activity.kind not in MANUAL_KINDS:
        raise KithError("System entries are part of the record and cannot be deleted.")
    audit_record(action="activity.deleted", actor=actor, workspace=activity.workspace, target=activity,
                 before=snapshot(activity, ["kind", "title", "body", "contact", "company", "deal"]))
    activity.delete()
