"""Query-string filters of GET /api/v1/webhook-deliveries/."""

from __future__ import annotations

import django_filters

from kith.contacts.filters import IdFilter, StrictFilterSet
from kith.webhooks.models import DeliveryStatus, WebhookDelivery


class WebhookDeliveryFilter(StrictFilterSet):
    endpoint = IdFilter(field_name="endpoint_id", help_text="Deliveries to this endpoint.")
    status = django_filters.ChoiceFilter(field_name="status", choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter(field_name="event_type", max_length=100)

    class Meta:
        model = WebhookDelivery
        fields = ["endpoint", "status", "event_type"]
