"""Query-string filters of GET /api/v1/inbound-deliveries/."""

from __future__ import annotations

import django_filters

from kith.contacts.filters import IdFilter, StrictFilterSet
from kith.inbound.models import DeliveryStatus, InboundDelivery


class InboundDeliveryFilter(StrictFilterSet):
    endpoint = IdFilter(field_name="endpoint_id", help_text="Requests to this endpoint.")
    status = django_filters.ChoiceFilter(field_name="status", choices=DeliveryStatus.choices)

    class Meta:
        model = InboundDelivery
        fields = ["endpoint", "status"]
