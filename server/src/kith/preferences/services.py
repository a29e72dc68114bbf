"""Writes of the preference centre: topics, a contact's choices, and managing the suppression list by hand.

Adding an address to the list is ``kith.messaging.services.suppression_add`` (one entry point for bounces,
complaints, unsubscribes and people); removing and importing live here, next to the pages that offer them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from kith.accounts.models import Workspace
from kith.contacts import services as contact_services
from kith.contacts.models import ConsentState, Contact
from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import Conflict, KithError
from kith.messaging.models import Suppression, SuppressionReason
from kith.messaging.services import address_normalize, suppression_add
from kith.preferences.models import Topic, TopicSubscription
from kith.preferences.selectors import topic_list
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record

TOPIC_FIELDS = ["name", "description", "default_subscribed", "archived_at"]
# A suppression import is a list of addresses; 100,000 rows (~3 MB) covers a migration from another tool.
MAX_IMPORT_ROWS = 100_000
_IMPORT_BATCH = 1000
# Per-row problems shown after an import; more than this is a wrong file, not a few typos.
MAX_REPORTED_ERRORS = 50


# --- topics ------------------------------------------------------------------------------------------------------

def _topic_values(data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if "name" in data:
        values["name"] = str(data["name"]).strip()
        if not values["name"]:
            raise KithError("Give the topic a name.", field="name")
        if len(values["name"]) > 200:
            raise KithError("Keep the name under 200 characters.", field="name")
    if "description" in data:
        values["description"] = str(data["description"] or "").strip()[:2000]
    if "default_subscribed" in data:
        values["default_subscribed"] = bool(data["default_subscribed"])
    return values


def _name_free(workspace: Workspace, name: str, *, exclude: int | None = None) -> None:
    taken = Topic.objects.for_workspace(workspace).filter(name__iexact=name).exclude(pk=exclude)
    if taken.exists():
        raise Conflict("A topic with this name exists (archived topics keep their names).", field="name")


@transaction.atomic
def topic_create(*, workspace: Workspace, actor: Any, data: dict[str, Any]) -> Topic:
    values = _topic_values({"default_subscribed": True, "description": "", **data})
    if "name" not in values:
        raise KithError("Give the topic a name.", field="name")
    _name_free(workspace, values["name"])
    topic = Topic.objects.create(workspace=workspace, **values)
    audit_record(action="topic.created", actor=actor, workspace=workspace, target=topic,
                 after=snapshot(topic, TOPIC_FIELDS))
    return topic


@transaction.atomic
def topic_update(*, topic: Topic, actor: Any, data: dict[str, Any]) -> Topic:
    values = _topic_values(data)
    if "name" in values:
        _name_free(topic.workspace, values["name"], exclude=topic.pk)
    before = snapshot(topic, TOPIC_FIELDS)
    for name, value in values.items():
        setattr(topic, name, value)
    topic.save(update_fields=[*values, "updated_at"])
    audit_record(action="topic.updated", actor=actor, workspace=topic.workspace, target=topic, before=before,
                 after=snapshot(topic, TOPIC_FIELDS))
    return topic


@transaction.atomic
def topic_archive(*, topic: Topic, actor: Any, archived: bool = True) -> Topic:
    """Archive (or restore) a topic. Archiving keeps the contacts' choices, so a restore loses nothing."""
    if topic.is_archived == archived:
        return topic
    before = snapshot(topic, TOPIC_FIELDS)
    topic.archived_at = clock.now() if archived else None
    topic.save(update_fields=["archived_at", "updated_at"])
    audit_record(action="topic.archived" if archived else "topic.restored", actor=actor, workspace=topic.workspace,
                 target=topic, before=before, after=snapshot(topic, TOPIC_FIELDS))
    return topic


# --- a contact's choices -------------------------------------------------------------------------------------------

@transaction.atomic
def preferences_save(*, workspace: Workspace, contact: Contact, subscribed_topic_ids: Collection[int],
                     unsubscribe_all: bool, actor: Any = None) -> list[str]:
    """Save what the contact chose on the preference page: one choice per active topic, and "no marketing at all".

    Unsubscribing from everything suppresses the address and opts the contact out of e-mail, like the unsubscribe
    link. Unticking it again lifts only an ``unsubscribe`` suppression: a bounce, a complaint or an entry made by
    the workspace is not the contact's to undo. Returns the changes made (empty when nothing changed), which the
    timeline entry and the audit row list."""
    contact = Contact.objects.select_for_update().get(pk=contact.pk, workspace=workspace)
    changes = _topic_changes(workspace, contact, set(subscribed_topic_ids))
    changes.extend(_marketing_change(workspace, contact, unsubscribe_all))
    if changes:
        kind = ActivityKind.UNSUBSCRIBED if unsubscribe_all else ActivityKind.SYSTEM
        activity_record(workspace=workspace, kind=kind, title="Subscription preferences updated", contact=contact,
                        body="; ".join(changes), data={"changes": changes, "source": "preference_centre"})
        audit_record(action="contact.preferences_updated", actor=actor, workspace=workspace, target=contact,
                     after={"changes": changes, "source": "preference centre"})
    return changes


def _topic_changes(workspace: Workspace, contact: Contact, wanted: set[int]) -> list[str]:
    chosen = {row.topic_id: row for row in TopicSubscription.objects.filter(contact=contact)}
    changes = []
    for topic in topic_list(workspace=workspace):
        subscribed = topic.pk in wanted
        row = chosen.get(topic.pk)
        current = row.subscribed if row is not None else topic.default_subscribed
        if row is None and subscribed == topic.default_subscribed:
            continue
        if row is None:
            TopicSubscription.objects.create(workspace=workspace, topic=topic, contact=contact, subscribed=subscribed)
        elif row.subscribed != subscribed:
            row.subscribed = subscribed
            row.save(update_fields=["subscribed", "updated_at"])
        if current != subscribed:
            changes.append(f"{'Subscribed to' if subscribed else 'Unsubscribed from'} {topic.name}")
    return changes


def _marketing_change(workspace: Workspace, contact: Contact, unsubscribe_all: bool) -> list[str]:
    if not contact.email:
        return []
    entry = Suppression.objects.filter(workspace=workspace, address=contact.email).first()
    opted_out = contact.email_consent == ConsentState.OPTED_OUT
    if unsubscribe_all:
        if entry is not None and opted_out:
            return []
        suppression_add(workspace=workspace, address=contact.email, reason=SuppressionReason.UNSUBSCRIBE)
        if not opted_out:
            contact_services.contact_update(contact=contact, actor=None,
                                            data={"email_consent": ConsentState.OPTED_OUT})
        return ["Unsubscribed from all marketing e-mail"]
    if entry is not None and entry.reason != SuppressionReason.UNSUBSCRIBE:
        return []  # not the contact's to lift; the page says why
    if entry is None and not opted_out:
        return []
    if entry is not None:
        audit_record(action="suppression.deleted", actor=None, workspace=workspace, target=entry,
                     before=snapshot(entry, ["address", "reason"]), after={"source": "preference centre"})
        entry.delete()
    # Ticking the box off is an explicit opt-in by the address's owner.
    contact_services.contact_update(contact=contact, actor=None, data={"email_consent": ConsentState.OPTED_IN})
    return ["Resubscribed to marketing e-mail"]


# --- the suppression list by hand --------------------------------------------------------------------------------

def suppression_add_manual(*, workspace: Workspace, actor: Any, address: str) -> Suppression:
    address = address_normalize(address)
    try:
        validate_email(address)
    except ValidationError as exc:
        raise KithError("Enter a valid e-mail address.", field="address") from exc
    return suppression_add(workspace=workspace, address=address, reason=SuppressionReason.MANUAL, actor=actor)


@transaction.atomic
def suppression_remove(*, suppression: Suppression, actor: Any) -> None:
    """Take an address off the list; marketing may reach it again (its contact's own opt-out still applies)."""
    audit_record(action="suppression.deleted", actor=actor, workspace=suppression.workspace, target=suppression,
                 before=snapshot(suppression, ["address", "reason"]))
    suppression.delete()


@dataclass
class ImportResult:
    added: int = 0
    already_listed: int = 0
    errors: list[str] = field(default_factory=list)
    error_count: int = 0


def _import_addresses(text: str) -> Iterator[tuple[int, str]]:
    """(line number, address) pairs: the ``email``/``address`` column when the first row names one, else the first
    column of every row (a plain list of addresses, one per line, is a one-column CSV)."""
    rows = csv.reader(io.StringIO(text))
    first = next(rows, None)
    if first is None:
        return
    header = [cell.strip().lower() for cell in first]
    column = next((header.index(name) for name in ("email", "e-mail", "address", "email_address") if name in header),
                  None)
    if column is None:
        column = 0
        if first:
            yield 1, first[0]
    for number, row in enumerate(rows, start=2):
        if row and len(row) > column:
            yield number, row[column]


def suppression_import(*, workspace: Workspace, actor: Any, text: str) -> ImportResult:
    """Add every valid address of a CSV to the list with reason ``imported``; invalid rows are reported by line and
    the valid ones still imported. Existing entries keep their reason. Batched: one SELECT and one INSERT per
    1,000 addresses, so 100,000 rows take seconds, not minutes."""
    result = ImportResult()
    batch: dict[str, int] = {}
    for number, raw in _import_addresses(text):
        if number > MAX_IMPORT_ROWS + 1:
            raise KithError(f"Import at most {MAX_IMPORT_ROWS:,} addresses at a time.", field="file")
        address = address_normalize(raw)
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            result.error_count += 1
            if len(result.errors) < MAX_REPORTED_ERRORS:
                result.errors.append(f"Line {number}: {raw.strip()[:100]!r} is not an e-mail address.")
            continue
        batch.setdefault(address, number)
        if len(batch) >= _IMPORT_BATCH:
            _import_batch(workspace, batch, result)
            batch = {}
    _import_batch(workspace, batch, result)
    if result.added:
        audit_record(action="suppression.imported", actor=actor, workspace=workspace, target_label="suppression list",
                     after={"added": result.added, "already_listed": result.already_listed,
                            "invalid": result.error_count})
    return result


@transaction.atomic
def _import_batch(workspace: Workspace, batch: dict[str, int], result: ImportResult) -> None:
    if not batch:
        return
    existing = set(Suppression.objects.for_workspace(workspace).filter(address__in=batch)
                   .values_list("address", flat=True))
    new = [Suppression(workspace=workspace, address=address, reason=SuppressionReason.IMPORTED)
           for address in batch if address not in existing]
    # ignore_conflicts: an address added by a bounce between the SELECT and the INSERT keeps its own reason.
    Suppression.objects.bulk_create(new, ignore_conflicts=True)
    result.added += len(new)
    result.already_listed += len(existing)
