"""Query-string filters of GET /api/v1/events/."""

from __future__ import annotations

import django_filters

from kith.contacts.filters import IdFilter, StrictFilterSet, UtcDateTimeFilter
from kith.events.models import Event, EventType


class EventFilter(StrictFilterSet):
    contact = IdFilter(field_name="contact_id", help_text="Events of this contact.")
    name = django_filters.CharFilter(field_name="name", max_length=255,
                                     help_text="Exact event name (track) or page name.")
    type = django_filters.ChoiceFilter(field_name="type", choices=EventType.choices)
    user_id = django_filters.CharFilter(field_name="user_id", max_length=255)
    anonymous_id = django_filters.CharFilter(field_name="anonymous_id", max_length=255)
    timestamp_after = UtcDateTimeFilter(field_name="timestamp", lookup_expr="gte",
                                        help_text="Events that happened at or after this time (ISO 8601).")
    timestamp_before = UtcDateTimeFilter(field_name="timestamp", lookup_expr="lt",
                                         help_text="Events that happened before this time (ISO 8601).")

    class Meta:
        model = Event
        fields = ["contact", "name", "type", "user_id", "anonymous_id", "timestamp_after", "timestamp_before"]
