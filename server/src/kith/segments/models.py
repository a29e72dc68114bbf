"""Saved segments: a named filter tree over a workspace's contacts (see ``kith.segments.compiler``).

Counting, listing and sending evaluate the definition as one SQL query, so they are always current. Workflows and
drips also need to know *when* a contact entered or left a segment; for them ``SegmentMembership`` keeps the
members, updated as contacts change and events arrive (``kith.segments.membership``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import WorkspaceOwnedModel


class Segment(WorkspaceOwnedModel):
    name = models.CharField(max_length=200)
    # The filter tree, already validated by the compiler when saved (a later change elsewhere, such as a deleted
    # custom field, can still make it invalid: evaluation then raises InvalidSegment naming the condition).
    definition = models.JSONField(default=dict)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        indexes = [
            # The API's default list order (cursor by descending id) within one workspace.
            models.Index(fields=["workspace", "id"], name="segment_ws_id_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class SegmentMembership(models.Model):
    """A contact that is in a segment, since ``entered_at``. Maintained incrementally by
    ``kith.segments.membership``: a row appears when a contact starts matching and is deleted when it stops, and each
    change is announced through ``kith.segments.hooks``. Counts and lists still evaluate the definition; these rows
    exist so that "entered"/"left" can be told apart."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="segment_memberships")
    entered_at = models.DateTimeField()

    class Meta:
        constraints = [
            # One row per member; the refresh inserts with ON CONFLICT DO NOTHING against it, and it is the index of
            # "members of segment S among these contacts" (segment first).
            models.UniqueConstraint(fields=["segment", "contact"], name="segment_membership_unique"),
        ]
        indexes = [
            # Deleting a contact cascades here, and "which segments is this contact in" starts from the contact.
            models.Index(fields=["contact"], name="segment_membership_contact"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} in segment {self.segment_id}"


class SegmentMembershipDirty(models.Model):
    """A contact whose memberships must be recomputed. Written by the contact-write and event hooks inside the
    writer's transaction, so a committed change always leaves a row (the queue is only a doorbell); the refresh job
    deletes the rows it takes with DELETE … RETURNING, so two jobs never work on the same contact at once."""

    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")
    contact_id = models.BigIntegerField()
    marked_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A contact written ten times before the job runs is recomputed once.
            models.UniqueConstraint(fields=["workspace", "contact_id"], name="segment_dirty_unique"),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id} of workspace {self.workspace_id}"
