"""Processing of accepted events: resolve who each event is about, apply identify traits, write the timeline.

Runs in the background (``events_process_task``), one chunk of a workspace's unprocessed events at a time, in
arrival order. Each chunk is one transaction that holds the workspace's ``EventSettings`` row locked, so two jobs of
one workspace never resolve the same ids concurrently (they would create the same contact twice), while workspaces
proceed in parallel. Set-based where it matters: identities and contacts of a chunk are loaded in two queries, the
events are updated with one bulk UPDATE, timeline rows inserted with one INSERT.

Identity rules (Segment's):

- ``userId`` is the host application's id of a person, i.e. the contact's ``external_id``; an event with an unknown
  ``userId`` creates that contact.
- ``identify`` creates or updates the contact (by ``userId``, else by the ``email`` trait) and applies its traits
  through the workspace's trait mapping; its ``anonymousId`` is linked to the contact.
- ``alias`` links ``previousId`` (an anonymous or an older user id) to ``userId``'s contact. Two existing contacts
  are never merged automatically; that is reported on the event.
- When an anonymous id gets linked, its earlier events (stored with no contact) are re-pointed to the contact and
  appear on its timeline.

Idempotent: a chunk either commits with its events marked processed or rolls back entirely, and the contact writes
are upserts by external id or e-mail, so a retried job converges on the same state.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils.html import escape

from kith.accounts.models import Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Contact, ObjectType
from kith.contacts.services import contact_bulk_upsert, contact_update, contact_upsert
from kith.core import clock
from kith.core.jobs import enqueue_on_commit, job
from kith.events.hooks import events_processed
from kith.events.models import Event, EventSettings, EventType, Identity, IdentityKind
from kith.events.services.traits import (
    effective_mapping,
    traits_to_contact_data,
    without_fields,
)
from kith.timeline.models import Activity, ActivityKind
from kith.webhooks.payloads import event_received_data
from kith.webhooks.services import webhook_emit_many

# Events per transaction: large enough that per-chunk costs (lock, loads, bulk writes) are amortized, small enough
# that the workspace lock is held for well under a second.
CHUNK_SIZE = 500
# Chunks per job run before it hands over to a fresh job: bounds a run far below its lease after a backlog.
CHUNKS_PER_RUN = 40
MAX_ERROR_CHARS = 2000
# Pending events older than this are "stale": their own job should have run by now, so the sweeper rings again.
STALE_AFTER = dt.timedelta(minutes=1)
# Timeline entries show the first properties of a track event; the event row keeps all of them.
SUMMARY_PROPERTIES = 6
SUMMARY_VALUE_CHARS = 60


@job(lease_seconds=900)
def events_process_task(*, workspace_id: int) -> int:
    """Process the workspace's pending events; enqueued once per accepted request. Returns how many."""
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is None:
        return 0
    return events_process_pending(workspace=workspace)


logger = logging.getLogger(__name__)


@job
def events_process_stale() -> int:
    """Periodic: ring a processing job for every workspace with events pending longer than ``STALE_AFTER`` (the
    leftovers of a lost or failed job). Only doorbells: each workspace's backlog is worked off by its own job."""
    workspace_ids = sorted(set(
        Event.objects.filter(processed_at__isnull=True, received_at__lt=clock.now() - STALE_AFTER)
        .values_list("workspace_id", flat=True).order_by().distinct()))
    for workspace_id in workspace_ids:
        enqueue_on_commit(events_process_task, workspace_id=workspace_id)
    return len(workspace_ids)


def events_process_pending(*, workspace: Workspace) -> int:
    """Process up to ``CHUNKS_PER_RUN`` chunks of pending events; if more remain, enqueue a follow-up job."""
    total = 0
    for _ in range(CHUNKS_PER_RUN):
        done = events_process(workspace=workspace, limit=CHUNK_SIZE)
        total += done
        if done < CHUNK_SIZE:
            return total
    enqueue_on_commit(events_process_task, workspace_id=workspace.pk)
    return total


def events_process(*, workspace: Workspace, limit: int = CHUNK_SIZE) -> int:
    """Process the oldest ``limit`` pending events of ``workspace`` in one transaction. Returns how many.

    One event that makes processing fail must not block every later event of the workspace: a failing chunk is
    retried one event at a time, and the single event that still fails is marked processed with the failure in
    ``processing_error`` (the traceback is logged). Database outages are not such a failure: they propagate, so
    the job is retried later with nothing marked.
    """
    try:
        return _chunk_process(workspace, limit)
    except (OperationalError, InterfaceError):
        raise
    except Exception:
        if limit > 1:
            logger.warning("events: a chunk of workspace %s failed; processing it one event at a time",
                           workspace.pk, exc_info=True)
            done = 0
            for _ in range(limit):
                count = events_process(workspace=workspace, limit=1)
                if count == 0:
                    break
                done += count
            return done
        logger.exception("events: processing failed for the oldest pending event of workspace %s", workspace.pk)
        return _oldest_pending_mark_failed(workspace)


def _oldest_pending_mark_failed(workspace: Workspace) -> int:
    with transaction.atomic():
        event = (Event.objects.select_for_update().filter(workspace=workspace, processed_at__isnull=True)
                 .order_by("id").first())
        if event is None:
            return 0
        event.processed_at = clock.now()
        event.processing_error = "Kith could not process this event (the error is in the server log)."
        event.save(update_fields=["processed_at", "processing_error"])
    return 1


def _chunk_process(workspace: Workspace, limit: int) -> int:
    with transaction.atomic():
        settings, _ = EventSettings.objects.get_or_create(workspace=workspace)
        EventSettings.objects.select_for_update().filter(pk=settings.pk).first()
        events = list(Event.objects.filter(workspace=workspace, processed_at__isnull=True).order_by("id")[:limit])
        if not events:
            return 0
        resolver = _Resolver(workspace=workspace, settings=settings)
        resolver.preload(events)
        errors: dict[int, list[str]] = defaultdict(list)
        for event in events:
            resolver.apply(event, errors[event.pk])
        now = clock.now()
        for event in events:
            event.contact_id = resolver.contact_of(event)
            event.processed_at = now
            event.processing_error = " ".join(errors[event.pk])[:MAX_ERROR_CHARS]
        Event.objects.bulk_update(events, ["contact", "processed_at", "processing_error"], batch_size=CHUNK_SIZE)
        # Only this chunk's events: history re-pointed to a contact below was announced when it was processed.
        # In the chunk's transaction, so a chunk that rolls back and is retried emits each event once.
        webhook_emit_many(workspace=workspace, events=[("event.received", event_received_data(event))
                                                       for event in events])
        repointed = resolver.repoint_history()
        attached = [event for event in events if event.contact_id] + repointed
        _timeline_record(workspace, attached)
        _last_seen_update(attached)
        events_processed(workspace=workspace, event_ids=[event.pk for event in attached])
    return len(events)


class _Resolver:
    """The ids → contact maps of one chunk, loaded up front and kept current as the chunk creates links."""

    def __init__(self, *, workspace: Workspace, settings: EventSettings) -> None:
        self.workspace = workspace
        self.mapping = effective_mapping(settings.trait_mapping)
        self.definitions = contact_selectors.custom_field_definitions_by_key(workspace=workspace,
                                                                             object_type=ObjectType.CONTACT)
        self.phone_region = contact_selectors.contact_settings_get(workspace=workspace).default_phone_region
        self.users: dict[str, int] = {}
        self.anonymous: dict[str, int] = {}
        self.new_anonymous: dict[str, int] = {}

    def preload(self, events: Sequence[Event]) -> None:
        ids = {value for event in events for value in (event.user_id, event.anonymous_id, event.previous_id)
               if value}
        for kind, value, contact_id in Identity.objects.filter(workspace=self.workspace, value__in=ids) \
                .values_list("kind", "value", "contact_id"):
            (self.users if kind == IdentityKind.USER else self.anonymous)[value] = contact_id
        # A contact's own external id wins over an alias row naming the same id.
        self.users.update(Contact.objects.for_workspace(self.workspace).filter(external_id__in=ids)
                          .values_list("external_id", "pk"))
        # New user ids are created in one set-based upsert — except those an identify or alias of this chunk
        # introduces, which may adopt an anonymous visitor's contact instead (see _identify).
        introduced = {value for event in events if event.type in (EventType.IDENTIFY, EventType.ALIAS)
                      for value in (event.user_id, event.previous_id) if value}
        missing = sorted({event.user_id for event in events if event.user_id} - self.users.keys() - introduced)
        if missing:
            results = contact_bulk_upsert(workspace=self.workspace, actor=None,
                                          items=[{"external_id": user_id} for user_id in missing])
            # An item that failed (a concurrent writer took the id) falls back to _user_contact, one by one.
            self.users.update((user_id, result.id) for user_id, result in zip(missing, results, strict=True)
                              if result.id is not None)

    def contact_of(self, event: Event) -> int | None:
        if event.user_id and event.user_id in self.users:
            return self.users[event.user_id]
        if event.type == EventType.ALIAS:
            return None
        return self.anonymous.get(event.anonymous_id) if event.anonymous_id else None

    # --- per event -------------------------------------------------------------------------------------------
    def apply(self, event: Event, errors: list[str]) -> None:
        if event.type == EventType.IDENTIFY:
            self._identify(event, errors)
        elif event.type == EventType.ALIAS:
            self._alias(event, errors)
        elif event.user_id:
            self._user_contact(event.user_id, errors)
        if event.type != EventType.ALIAS and event.user_id in self.users and event.anonymous_id:
            self._link_anonymous(event.anonymous_id, self.users[event.user_id])

    def _user_contact(self, user_id: str, errors: list[str]) -> int | None:
        if user_id not in self.users:
            contact = self._save(contact_id=None, data={"external_id": user_id}, errors=errors)
            if contact is not None:
                self.users[user_id] = contact.pk
        return self.users.get(user_id)

    def _identify(self, event: Event, errors: list[str]) -> None:
        data, trait_errors = traits_to_contact_data(traits=event.traits, mapping=self.mapping,
                                                    definitions=self.definitions, phone_region=self.phone_region)
        errors.extend(_format(trait_errors))
        contact_id = self.users.get(event.user_id) if event.user_id else None
        if contact_id is None and event.anonymous_id in self.anonymous:
            # An anonymous visitor identifies: their contact takes the user id, unless it already has another one.
            known = self.anonymous[event.anonymous_id]
            has_other_id = Contact.objects.filter(pk=known).exclude(external_id="").exists()
            if not event.user_id or not has_other_id:
                contact_id = known
        if event.user_id:
            data["external_id"] = event.user_id
        contact = self._save(contact_id=contact_id, data=data, errors=errors)
        if contact is None:
            return
        if event.user_id:
            self.users[event.user_id] = contact.pk
        if event.anonymous_id:
            self._link_anonymous(event.anonymous_id, contact.pk)

    def _alias(self, event: Event, errors: list[str]) -> None:
        target = self._user_contact(event.user_id, errors)
        if target is None:
            return
        previous = self.users.get(event.previous_id) or self.anonymous.get(event.previous_id)
        if previous is None:
            Identity.objects.bulk_create([
                Identity(workspace=self.workspace, kind=IdentityKind.USER, value=event.previous_id, contact_id=target)
            ], ignore_conflicts=True)
            self.users[event.previous_id] = target
            self._link_anonymous(event.previous_id, target)
        elif previous != target:
            errors.append(f"previousId already belongs to contact {previous}; Kith does not merge two existing "
                          f"contacts automatically (merge them in the app).")

    def _link_anonymous(self, anonymous_id: str, contact_id: int) -> None:
        if anonymous_id in self.anonymous:
            return  # first link wins: an anonymous id means one person
        Identity.objects.bulk_create([
            Identity(workspace=self.workspace, kind=IdentityKind.ANONYMOUS, value=anonymous_id, contact_id=contact_id)
        ], ignore_conflicts=True)
        self.anonymous[anonymous_id] = contact_id
        self.new_anonymous[anonymous_id] = contact_id

    def _save(self, *, contact_id: int | None, data: dict[str, Any], errors: list[str]) -> Contact | None:
        """Create/update the contact with ``data``; fields the contacts service refuses (an e-mail that belongs to
        another contact, say) are left out and reported, and the rest is written."""
        for _ in range(3):
            try:
                with transaction.atomic():
                    if contact_id is not None:
                        current = Contact(pk=contact_id, workspace=self.workspace)
                        return contact_update(contact=current, actor=None, data=data)
                    return contact_upsert(workspace=self.workspace, actor=None, data=data)[0]
            except InvalidFields as exc:
                refused = set(exc.errors)
                errors.extend(_format(exc.errors))
                if "external_id" in refused and "email" in data:
                    # "The contact with this e-mail address has another external id": the user id is who this is,
                    # the e-mail is the part that cannot be applied.
                    refused = (refused - {"external_id"}) | {"email"}
                elif "external_id" in refused:
                    return None
                remaining = without_fields(data, refused)
                if remaining == data:
                    return None
                data = remaining
        return None

    # --- after the chunk -------------------------------------------------------------------------------------
    def repoint_history(self) -> list[Event]:
        """Attach earlier, already processed events of newly linked anonymous ids to their contact."""
        repointed: list[Event] = []
        for anonymous_id, contact_id in self.new_anonymous.items():
            rows = list(Event.objects.filter(workspace=self.workspace, anonymous_id=anonymous_id,
                                             contact__isnull=True, processed_at__isnull=False)
                        .only("id", "type", "name", "timestamp", "received_at", "properties"))
            if not rows:
                continue
            Event.objects.filter(pk__in=[row.pk for row in rows]).update(contact_id=contact_id)
            for row in rows:
                row.contact_id = contact_id
            repointed.extend(rows)
        return repointed


def _format(errors: dict[str, list[str]]) -> list[str]:
    return [f"{name}: {message}" for name, messages in errors.items() for message in messages]


def _summary(properties: dict[str, Any]) -> str:
    parts = []
    for key, value in list(properties.items())[:SUMMARY_PROPERTIES]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if len(text) > SUMMARY_VALUE_CHARS:
            text = text[:SUMMARY_VALUE_CHARS - 1] + "…"
        parts.append(f"{key}: {text}")
    return " · ".join(parts)


def _timeline_record(workspace: Workspace, events: Iterable[Event]) -> None:
    """One timeline entry per track event (what a salesperson wants to see: "Purchase Completed"), written in one
    INSERT. Page views, screens and identifies stay on the event list only: they are many and say little."""
    Activity.objects.bulk_create([
        Activity(workspace=workspace, kind=ActivityKind.EVENT, contact_id=event.contact_id, title=event.name[:255],
                 body=escape(_summary(event.properties)), occurred_at=event.timestamp,
                 data={"event_id": event.pk, "event_type": event.type})
        for event in events if event.type == EventType.TRACK
    ], batch_size=CHUNK_SIZE)


def _last_seen_update(events: Iterable[Event]) -> None:
    """``last_seen_at`` moves forward only: a late event from last week does not make a contact look inactive."""
    latest: dict[int, Any] = {}
    for event in events:
        if event.contact_id and event.type != EventType.ALIAS:
            seen = min(event.timestamp, event.received_at) if event.received_at else event.timestamp
            if event.contact_id not in latest or seen > latest[event.contact_id]:
                latest[event.contact_id] = seen
    for contact_id, seen in latest.items():
        Contact.objects.filter(pk=contact_id).exclude(last_seen_at__gte=seen).update(last_seen_at=seen)
