"""Builders for campaign tests: contacts in bulk, a segment, a ready campaign."""

from __future__ import annotations

import itertools
from typing import Any

from kith.campaigns import services
from kith.campaigns.models import Campaign
from kith.contacts.models import Contact
from kith.messaging.tests.factories import template_make
from kith.segments.models import Segment
from kith.segments.services import segment_create

_numbers = itertools.count(1)
EVERYONE = {"field": "email", "op": "contains", "value": "@"}


def contacts_make(*, workspace: Any, count: int, prefix: str = "person", **fields: Any) -> list[Contact]:
    Contact.objects.bulk_create([Contact(workspace=workspace, email=f"{prefix}{index}@example.com",
                                         first_name=f"P{index}", **fields) for index in range(count)])
    return list(Contact.objects.filter(workspace=workspace, email__startswith=prefix).order_by("pk"))


def segment_make(*, workspace: Any, actor: Any = None, name: str = "Everyone",
                 definition: Any = None) -> Segment:
    return segment_create(workspace=workspace, actor=actor, name=name, definition=definition or EVERYONE)


def campaign_make(*, workspace: Any, actor: Any = None, segments: list[Segment] | None = None,
                  **data: Any) -> Campaign:
    template = template_make(workspace=workspace, name=f"T{next(_numbers)}")
    segments = segments if segments is not None else [segment_make(workspace=workspace, actor=actor,
                                                                   name=f"S{next(_numbers)}")]
    values = {"name": "Spring sale", "template": template.pk, "segments": [s.pk for s in segments]} | data
    return services.campaign_create(workspace=workspace, actor=actor, data=values)
