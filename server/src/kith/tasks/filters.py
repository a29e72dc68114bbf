"""Query-string filters of the task list (API)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from kith.contacts.filters import IdFilter, StrictFilterSet, UtcDateTimeFilter
from kith.tasks.models import Notification, Task, TaskStatus


class TaskFilter(StrictFilterSet):
    assignee = IdFilter(field_name="assignee_id", help_text="User id of the assignee.")
    status = django_filters.ChoiceFilter(choices=TaskStatus.choices)
    due_before = UtcDateTimeFilter(field_name="due_at", lookup_expr="lt", help_text="Due before this instant.")
    due_after = UtcDateTimeFilter(field_name="due_at", lookup_expr="gte", help_text="Due at or after this instant.")
    contact = IdFilter(field_name="contact_id")
    company = IdFilter(field_name="company_id")
    deal = IdFilter(field_name="deal_id")

    class Meta:
        model = Task
        fields: list[str] = []


class NotificationFilter(StrictFilterSet):
    # A choice rather than BooleanFilter, which would quietly ignore ?unread=119 instead of answering 400.
    unread = django_filters.ChoiceFilter(choices=[("true", "true"), ("false", "false")], method="filter_unread",
                                         help_text="true: only unread; false: only read.")

    class Meta:
        model = Notification
        fields: list[str] = []

    def filter_unread(self, queryset: QuerySet[Notification], name: str, value: str) -> QuerySet[Notification]:
        return queryset.filter(read_at__isnull=value == "true")
