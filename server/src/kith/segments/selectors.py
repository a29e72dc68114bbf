"""Reads of segments and of their members. Counting or listing members is one SQL query over the contacts the
caller may see (``kith.contacts.selectors.contact_list``): a restricted rep's counts cover only their own contacts."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.models import Contact, CustomFieldDefinition, ObjectType
from kith.core.errors import NotFound
from kith.segments.compiler import compile_definition
from kith.segments.models import Segment
from kith.segments.textform import text_form_parse

SAMPLE_SIZE = 10


def segment_list(*, workspace: Workspace) -> QuerySet[Segment]:
    """Segments are shared by the workspace: every member sees all of them (their members are still filtered)."""
    return Segment.objects.for_workspace(workspace).select_related("created_by").order_by("-id")


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment:
    segment = segment_list(workspace=workspace).filter(pk=segment_id).first()
    if segment is None:
        raise NotFound("No such segment.")
    return segment


def definition_normalize(*, workspace: Workspace, definition: Any) -> Any:
    """A definition as stored: the text form (``language=en&plan=pro``) becomes its tree, a tree stays as is."""
    if isinstance(definition, str):
        keys = set(CustomFieldDefinition.objects.for_workspace(workspace)
                   .filter(object_type=ObjectType.CONTACT).values_list("key", flat=True))
        return text_form_parse(definition, attribute_keys=keys)
    return definition


def segment_condition(*, workspace: Workspace, definition: Any, segment_id: int | None = None) -> Q:
    """The compiled ``Q`` of ``definition``; raises ``InvalidSegment`` naming the bad condition."""
    def load(other_id: int) -> Any:
        return (Segment.objects.for_workspace(workspace).filter(pk=other_id)
                .values_list("definition", flat=True).first())

    return compile_definition(definition_normalize(workspace=workspace, definition=definition),
                              workspace=workspace, load_segment=load, segment_id=segment_id)


def segment_members(*, workspace: Workspace, membership: Membership | None, condition: Q) -> QuerySet[Contact]:
    """The contacts matching ``condition`` that ``membership`` may see, newest first (one query to count; listing
    adds the tag prefetch of ``contact_list``)."""
    return contact_selectors.contact_list(workspace=workspace, membership=membership).filter(condition)


def segment_preview(*, workspace: Workspace, membership: Membership | None, condition: Q) -> tuple[int, list[Contact]]:
    """How many visible contacts match, and the newest few (two queries: one count, one small page)."""
    members = Contact.objects.for_workspace(workspace)
    if contact_selectors.sees_only_own(membership):
        assert membership is not None
        members = members.filter(owner_id=membership.user_id)
    members = members.filter(condition)
    count = members.count()
    sample = list(members.order_by("-id")[:SAMPLE_SIZE]) if count else []
    return count, sample
