"""GET /api/v1/events/: the events a workspace received, newest first, filterable by contact, name, type, ids and
time. Read-only: events are written through the tracking API (/v1/...), not through REST."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet
from kith.events import selectors
from kith.events.filters import EventFilter
from kith.events.models import Event


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "message_id", "type", "name", "user_id", "anonymous_id", "previous_id", "group_id",
                  "timestamp", "received_at", "properties", "traits", "context", "contact", "processed_at",
                  "processing_error"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(description="Events received through the tracking API (/v1/track and friends), newest "
                                   "first. `contact` is set once the event has been processed and its sender is "
                                   "known."),
    retrieve=extend_schema(description="One event."),
)
class EventViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = EventSerializer
    filterset_class = EventFilter
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    def workspace_queryset(self) -> Any:
        return selectors.event_list(workspace=self.workspace, membership=self.membership)


def register(router: BaseRouter) -> None:
    router.register("events", EventViewSet, basename="event")
