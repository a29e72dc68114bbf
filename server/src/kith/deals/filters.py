"""Query-string filters of the deal list (API and the web list share them)."""

from __future__ import annotations

import django_filters

from kith.contacts.filters import IdFilter, StrictFilterSet
from kith.deals.models import Deal, DealStatus


class DealFilter(StrictFilterSet):
    pipeline = IdFilter(field_name="pipeline_id")
    stage = IdFilter(field_name="stage_id")
    status = django_filters.ChoiceFilter(choices=DealStatus.choices)
    owner = IdFilter(field_name="owner_id")
    contact = IdFilter(field_name="contact_id")
    company = IdFilter(field_name="company_id")
    external_id = django_filters.CharFilter(max_length=255, help_text="The deal's id in another system.")
    expected_close_after = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="gte",
                                                     help_text="Expected to close on or after this date.")
    expected_close_before = django_filters.DateFilter(field_name="expected_close_date", lookup_expr="lte",
                                                      help_text="Expected to close on or before this date.")

    class Meta:
        model = Deal
        fields: list[str] = []
