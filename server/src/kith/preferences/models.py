"""Subscription topics of a workspace and each contact's choice per topic.

A contact with no ``TopicSubscription`` row for a topic has the topic's default (``default_subscribed``); a row is
written only when the contact (or an operator) chose. So a new topic needs no fan-out over every contact, and the
marketing selector reads "opted out" / "opted in" as one ``EXISTS`` per topic.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from kith.core.models import WorkspaceOwnedModel


class Topic(WorkspaceOwnedModel):
    """What a marketing message is about ("Product news", "Events"); contacts opt in or out per topic."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    # True: everyone receives it until they opt out. False: only contacts who opted in receive it.
    default_subscribed = models.BooleanField(default=True)
    # Archived topics leave the preference page and take no new campaigns; past choices are kept.
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # Archived names stay reserved: a campaign's topic must never silently change meaning.
            models.UniqueConstraint(fields=["workspace", "name"], name="topic_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class TopicSubscription(WorkspaceOwnedModel):
    """A contact's explicit choice for one topic."""

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="subscriptions")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="topic_subscriptions")
    subscribed = models.BooleanField()

    class Meta:
        constraints = [
            # (topic, contact) first: the marketing selector's EXISTS looks up one topic's row for each contact.
            models.UniqueConstraint(fields=["topic", "contact"], name="topic_subscription_unique"),
        ]
        indexes = [
            # A contact's preference page reads all of its rows.
            models.Index(fields=["contact"], name="topic_sub_contact_idx", condition=Q(subscribed=False)),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {'in' if self.subscribed else 'out'} {self.topic_id}"
