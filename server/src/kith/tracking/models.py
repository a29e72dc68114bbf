"""Tracking state: the append-only hits table written by the pixel and click requests, and the facts the
aggregation job folds out of it (per message, per link), plus the switches that turn tracking off.

Hits are written with one raw INSERT (``kith.tracking.recording``) and read only by the aggregation job, so the
table has no index besides its primary key: every index would be paid for by every open and click.
"""

from __future__ import annotations

from django.db import models

from kith.core.models import TimeStampedModel

CLIENT_KINDS = [("proxy", "Privacy proxy"), ("scanner", "Link scanner"), ("mobile", "Mobile"),
                ("webmail", "Webmail"), ("desktop", "Desktop"), ("unknown", "Unknown")]


class HitKind(models.IntegerChoices):
    OPEN = 1, "Open"
    CLICK = 2, "Click"
    # The hidden link no person can see: whoever follows it is a machine, and so is every click of that message.
    HONEYPOT = 3, "Honeypot click"


class Hit(models.Model):
    """One pixel load or click, as it arrived. Never updated; pruned after ``HIT_RETENTION`` by the aggregation job.

    ``message`` carries no database constraint and no index: the insert must not pay for a foreign-key check or a
    second index, and a hit for a message deleted meanwhile is simply skipped by the aggregation's join."""

    message = models.ForeignKey("messaging.Message", on_delete=models.DO_NOTHING, db_constraint=False,
                                db_index=False, related_name="+")
    kind = models.PositiveSmallIntegerField(choices=HitKind.choices)
    link_index = models.PositiveSmallIntegerField(null=True)
    occurred_at = models.DateTimeField()
    client_kind = models.CharField(max_length=10, choices=CLIENT_KINDS)
    # "proxy"/"scanner" when the address is in a known network of such machines; the address itself is not kept.
    ip_flag = models.CharField(max_length=10, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)


class MessageEngagement(models.Model):
    """What the recipient of one message did, human and machine counted apart. Only human opens and clicks have
    first/last times; rates and unique counts read those."""

    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, primary_key=True,
                                   related_name="engagement")
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    first_open_at = models.DateTimeField(null=True, blank=True)
    last_open_at = models.DateTimeField(null=True, blank=True)
    opens = models.PositiveIntegerField(default=0)
    machine_opens = models.PositiveIntegerField(default=0)
    first_click_at = models.DateTimeField(null=True, blank=True)
    last_click_at = models.DateTimeField(null=True, blank=True)
    clicks = models.PositiveIntegerField(default=0)
    machine_clicks = models.PositiveIntegerField(default=0)
    # The honeypot link was followed: every click of this message from then on is a scanner's.
    scanner_detected = models.BooleanField(default=False)
    # Kind of the client of the first human open (or click): "mobile", "webmail", "desktop".
    client_kind = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [
            # Workspace-level rates ("opened in the last 30 days") read by time.
            models.Index(fields=["workspace", "first_open_at"], name="engagement_ws_open_idx"),
        ]


class LinkClicks(models.Model):
    """Clicks per tracked link of one message (the index into the template version's link list)."""

    message = models.ForeignKey("messaging.Message", on_delete=models.CASCADE, related_name="+")
    link_index = models.PositiveSmallIntegerField()
    clicks = models.PositiveIntegerField(default=0)
    machine_clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "link_index"], name="linkclicks_unique_link")]


class AggregationCursor(models.Model):
    """How far the aggregation job has folded the hits table: one row, moved in the same transaction as the
    facts it produced, so a rerun (or a crash in the middle) never folds a hit twice."""

    name = models.CharField(max_length=40, primary_key=True)
    last_hit_id = models.BigIntegerField(default=0)


class TrackingSettings(TimeStampedModel):
    """A workspace's tracking switches; no row means both are on."""

    workspace = models.OneToOneField("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)


class MessageTrackingOptions(models.Model):
    """A per-message opt-out (the transactional API's ``track_opens``/``track_clicks``); only written when one of
    them is off, so ordinary sends cost no extra row."""

    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, primary_key=True,
                                   related_name="+")
    track_opens = models.BooleanField(default=True)
    track_clicks = models.BooleanField(default=True)
