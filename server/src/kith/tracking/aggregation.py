"""The background half of tracking: fold the hits table into per-message and per-link facts, timeline entries and
engagement scores. Runs from the schedule (``tracking_aggregate``); see ``schedule.toml`` for its cadence.

Each batch is one transaction that reads the cursor row (locked), aggregates the next hits with a handful of
GROUP BY queries, writes the facts and moves the cursor. The cursor and the facts commit together, so running the
job twice, or after a crash half-way, never counts a hit twice.

Hits younger than ``SETTLE`` wait for a later run: a scanner follows every link of a message, the hidden one
included, within a second or two, so by then the honeypot hit is in the same batch as the clicks it unmasks. It
also covers the one ordering gap of the cursor: on PostgreSQL a hit's id is drawn before its INSERT commits, so a
lower id can become visible after a higher one; an autocommit INSERT of one row takes far less than ``SETTLE``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q

from kith.contacts.models import Contact
from kith.core import clock
from kith.core.jobs import job
from kith.messaging.models import Message
from kith.messaging.preparation import prepared_version
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record
from kith.tracking.classify import MACHINE_KINDS, SCANNER
from kith.tracking.models import (
    AggregationCursor,
    Hit,
    HitKind,
    LinkClicks,
    MessageEngagement,
)
from kith.webhooks.payloads import email_engagement_data
from kith.webhooks.services import webhook_emit_across

SETTLE = dt.timedelta(seconds=60)
# Link scanners at the receiving gateway follow links as the message arrives; no person reads and clicks this fast.
SCANNER_CLICK_WINDOW = dt.timedelta(seconds=10)
# Bounds one transaction's work (and the lists passed as IN parameters) to a few seconds.
BATCH = 10_000
# Raw hits are kept this long for investigation, then only the folded facts remain.
HIT_RETENTION = dt.timedelta(days=30)
# What one message's first human open and first human click add to the contact's engagement score.
OPEN_POINTS = 1
CLICK_POINTS = 3
CURSOR = "hits"

_MACHINE_OPEN = Q(client_kind__in=MACHINE_KINDS) | ~Q(ip_flag="")
_MACHINE_CLICK = (Q(client_kind__in=MACHINE_KINDS) | Q(ip_flag=SCANNER)
                  | Q(occurred_at__lt=F("message__sent_at") + SCANNER_CLICK_WINDOW))


@job(lease_seconds=900)
def tracking_aggregate() -> int:
    """Fold every settled hit; returns how many were folded. Then drop hits past their retention."""
    total = 0
    while True:
        folded = tracking_fold_batch()
        total += folded
        if folded < BATCH:
            break
    tracking_hits_prune()
    return total


def tracking_hits_prune() -> int:
    """Delete folded hits past ``HIT_RETENTION``, at most ``BATCH`` per run: the oldest hits by id (a short primary
    key range scan; the table has no time index, which every INSERT would pay for)."""
    last = AggregationCursor.objects.filter(name=CURSOR).values_list("last_hit_id", flat=True).first() or 0
    cutoff = clock.now() - HIT_RETENTION
    oldest = Hit.objects.filter(id__lte=last).order_by("id").values_list("id", "occurred_at")[:BATCH]
    expired = [hit_id for hit_id, occurred_at in oldest if occurred_at < cutoff]
    if not expired:
        return 0
    deleted, _ = Hit.objects.filter(id__lte=max(expired), occurred_at__lt=cutoff).delete()
    return deleted


@transaction.atomic
def tracking_fold_batch() -> int:
    """Fold the next settled hits (at most ``BATCH``) and move the cursor past them. Returns how many."""
    AggregationCursor.objects.get_or_create(name=CURSOR)
    cursor = AggregationCursor.objects.select_for_update().get(name=CURSOR)
    upper = _batch_upper(cursor.last_hit_id)
    if upper is None:
        return 0
    batch = Hit.objects.filter(id__gt=cursor.last_hit_id, id__lte=upper)
    count = batch.count()
    folder = _Folder(batch)
    folder.fold()
    cursor.last_hit_id = upper
    cursor.save(update_fields=["last_hit_id"])
    return count


def _batch_upper(last: int) -> int | None:
    """The last hit id of the next batch: hits in id order, stopping before the first one that has not settled."""
    unsettled = Hit.objects.filter(id__gt=last, occurred_at__gt=clock.now() - SETTLE).aggregate(m=Min("id"))["m"]
    eligible = Hit.objects.filter(id__gt=last)
    if unsettled is not None:
        eligible = eligible.filter(id__lt=unsettled)
    ids = list(eligible.order_by("id").values_list("id", flat=True)[BATCH - 1:BATCH])
    return ids[0] if ids else eligible.aggregate(m=Max("id"))["m"]


@dataclass
class _Totals:
    workspace_id: int
    contact_id: int
    opens: int
    machine_opens: int
    first_open: dt.datetime | None
    last_open: dt.datetime | None
    clicks: int
    machine_clicks: int
    first_click: dt.datetime | None
    last_click: dt.datetime | None
    honeypot: bool
    client_kind: str


class _Folder:
    """One batch's fold; see the module docstring. Query count is constant per batch, not per hit."""

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.new_opens: list[int] = []  # messages whose first human open is in this batch
        self.new_clicks: list[int] = []
        self.new_links: list[tuple[int, int]] = []  # (message, link) clicked by a person for the first time

    def fold(self) -> None:
        scanned = self._scanned_messages()
        totals = self._message_totals(scanned)
        if not totals:
            return
        self._engagement_write(totals)
        self._links_write(scanned)
        self._timeline_and_scores()

    def _scanned_messages(self) -> set[int]:
        """Messages whose honeypot was followed, in this batch or before."""
        in_batch = set(self.batch.filter(kind=HitKind.HONEYPOT).values_list("message_id", flat=True))
        touched = self.batch.values("message_id")
        earlier = MessageEngagement.objects.filter(message_id__in=touched, scanner_detected=True)
        return in_batch | set(earlier.values_list("message_id", flat=True))

    def _click_machine(self, scanned: set[int]) -> Q:
        return _MACHINE_CLICK | Q(message_id__in=scanned) if scanned else _MACHINE_CLICK

    def _message_totals(self, scanned: set[int]) -> dict[int, _Totals]:
        opens, clicks = Q(kind=HitKind.OPEN), Q(kind=HitKind.CLICK)
        machine_click = self._click_machine(scanned)
        human_open, human_click = opens & ~_MACHINE_OPEN, clicks & ~machine_click
        rows = (self.batch.filter(message__isnull=False)  # the join drops hits of deleted messages
                .values("message_id", "message__workspace_id", "message__contact_id")
                .annotate(opens=Count("id", filter=human_open),
                          machine_opens=Count("id", filter=opens & _MACHINE_OPEN),
                          first_open=Min("occurred_at", filter=human_open),
                          last_open=Max("occurred_at", filter=human_open),
                          clicks=Count("id", filter=human_click),
                          machine_clicks=Count("id", filter=clicks & machine_click),
                          first_click=Min("occurred_at", filter=human_click),
                          last_click=Max("occurred_at", filter=human_click),
                          honeypot=Count("id", filter=Q(kind=HitKind.HONEYPOT))))
        kinds = self._first_human_kind(human_open | human_click)
        return {row["message_id"]: _Totals(
            workspace_id=row["message__workspace_id"], contact_id=row["message__contact_id"], opens=row["opens"],
            machine_opens=row["machine_opens"], first_open=row["first_open"], last_open=row["last_open"],
            clicks=row["clicks"], machine_clicks=row["machine_clicks"], first_click=row["first_click"],
            last_click=row["last_click"], honeypot=row["honeypot"] > 0, client_kind=kinds.get(row["message_id"], ""),
        ) for row in rows}

    def _first_human_kind(self, human: Q) -> dict[int, str]:
        """The client kind of each message's first human hit in the batch (for "read on mobile" reports)."""
        found: dict[int, str] = {}
        for message_id, kind in self.batch.filter(human).order_by("id").values_list("message_id", "client_kind"):
            found.setdefault(message_id, kind)
        return found

    def _engagement_write(self, totals: dict[int, _Totals]) -> None:
        existing = MessageEngagement.objects.in_bulk(list(totals))
        created, updated = [], []
        for message_id, t in totals.items():
            row = existing.get(message_id)
            if row is None:
                row = MessageEngagement(message_id=message_id, workspace_id=t.workspace_id, contact_id=t.contact_id)
                created.append(row)
            else:
                updated.append(row)
            if t.first_open is not None and row.first_open_at is None:
                self.new_opens.append(message_id)
            if t.first_click is not None and row.first_click_at is None:
                self.new_clicks.append(message_id)
            row.opens += t.opens
            row.machine_opens += t.machine_opens
            row.clicks += t.clicks
            row.machine_clicks += t.machine_clicks
            row.first_open_at = _earliest(row.first_open_at, t.first_open)
            row.last_open_at = _latest(row.last_open_at, t.last_open)
            row.first_click_at = _earliest(row.first_click_at, t.first_click)
            row.last_click_at = _latest(row.last_click_at, t.last_click)
            row.scanner_detected = row.scanner_detected or t.honeypot
            row.client_kind = row.client_kind or t.client_kind
        MessageEngagement.objects.bulk_create(created)
        MessageEngagement.objects.bulk_update(updated, [
            "opens", "machine_opens", "clicks", "machine_clicks", "first_open_at", "last_open_at", "first_click_at",
            "last_click_at", "scanner_detected", "client_kind"])

    def _links_write(self, scanned: set[int]) -> None:
        machine = self._click_machine(scanned)
        rows = (self.batch.filter(kind=HitKind.CLICK, message__isnull=False, link_index__isnull=False)
                .values("message_id", "link_index")
                .annotate(clicks=Count("id", filter=~machine), machine_clicks=Count("id", filter=machine)))
        counts = {(row["message_id"], row["link_index"]): row for row in rows}
        if not counts:
            return
        existing = {(row.message_id, row.link_index): row for row in LinkClicks.objects.filter(
            message_id__in={message_id for message_id, _ in counts})}
        created, updated = [], []
        for key, row in counts.items():
            link = existing.get(key)
            if link is None:
                link = LinkClicks(message_id=key[0], link_index=key[1])
                created.append(link)
            else:
                updated.append(link)
            if row["clicks"] and not link.clicks:
                self.new_links.append(key)
            link.clicks += row["clicks"]
            link.machine_clicks += row["machine_clicks"]
        LinkClicks.objects.bulk_create(created)
        LinkClicks.objects.bulk_update(updated, ["clicks", "machine_clicks"])

    def _timeline_and_scores(self) -> None:
        """One timeline entry per message first opened and per link first clicked by a person; points for the
        first open and the first click of each message."""
        wanted = set(self.new_opens) | set(self.new_clicks) | {message_id for message_id, _ in self.new_links}
        if not wanted:
            return
        messages = Message.objects.select_related("workspace", "contact", "template_version").in_bulk(list(wanted))
        engagement = MessageEngagement.objects.in_bulk(list(wanted))
        # Outgoing webhooks of the same facts as the timeline rows: queued for the whole batch at once (one
        # endpoints query, one INSERT, one job per endpoint) and committed with the cursor, so a fold that rolls
        # back and runs again emits each first open and first click once.
        hooks: list[tuple[int, str, dict[str, Any]]] = []
        for message_id in self.new_opens:
            message = messages.get(message_id)
            if message is not None:
                activity_record(workspace=message.workspace, kind=ActivityKind.EMAIL_OPENED, contact=message.contact,
                                title=f"E-mail opened: {message.subject}", occurred_at=engagement[message_id].first_open_at,
                                data={"message_id": message_id, "client_kind": engagement[message_id].client_kind})
                hooks.append((message.workspace_id, "email.opened", email_engagement_data(
                    message, occurred_at=engagement[message_id].first_open_at,
                    client_kind=engagement[message_id].client_kind)))
        for message_id, link_index in self.new_links:
            message = messages.get(message_id)
            if message is None:
                continue
            targets = prepared_version(message.template_version).links
            url = targets[link_index] if link_index < len(targets) else ""
            activity_record(workspace=message.workspace, kind=ActivityKind.EMAIL_CLICKED, contact=message.contact,
                            title=f"Clicked {url}" if url else f"Clicked a link in: {message.subject}",
                            occurred_at=engagement[message_id].first_click_at,
                            data={"message_id": message_id, "link_index": link_index, "url": url})
            hooks.append((message.workspace_id, "email.clicked", email_engagement_data(
                message, occurred_at=engagement[message_id].first_click_at, url=url, link_index=link_index)))
        webhook_emit_across(events=hooks)
        points: dict[int, int] = defaultdict(int)
        for message_id in self.new_opens:
            if message_id in messages:
                points[messages[message_id].contact_id] += OPEN_POINTS
        for message_id in self.new_clicks:
            if message_id in messages:
                points[messages[message_id].contact_id] += CLICK_POINTS
        by_delta: dict[int, list[int]] = defaultdict(list)
        for contact_id, delta in points.items():
            by_delta[delta].append(contact_id)
        for delta, contact_ids in by_delta.items():
            Contact.objects.filter(pk__in=contact_ids).update(engagement_score=F("engagement_score") + delta)


def _earliest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: dt.datetime | None, b: dt.datetime | None) -> dt.datetime | None:
    return b if a is None else a if b is None else max(a, b)
