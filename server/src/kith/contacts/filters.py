"""Query-string filters of the contact and company lists.

Besides the fixed filters, ``?attr.<key>=<value>`` filters on a custom attribute: the key must be defined for the
object type and the value is parsed by the field's type (``attr.seats=5``, ``attr.trial=true``,
``attr.renewal=2025-01-31``; for a multiple-choice field, contacts whose list contains the choice). Repeating a
parameter, or giving several, narrows the result (all must hold). See ``selectors.with_attribute_equal`` for how
this stays an indexed query on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError

from kith.contacts import selectors
from kith.contacts.attributes import filter_value_parse, printable
from kith.contacts.errors import InvalidFields
from kith.contacts.models import (
    Company,
    CompanySize,
    ConsentState,
    Contact,
    CustomFieldDefinition,
    LeadStatus,
    LifecycleStage,
    ObjectType,
)
from kith.contacts.validation import normalize_domain, normalize_email

ATTRIBUTE_PREFIX = "attr."
# Each attr.* parameter adds one condition; a bound keeps a crafted URL from building a huge query.
MAX_ATTRIBUTE_FILTERS = 20


class IdFilter(django_filters.Filter):
    """An object id: a whole number within the database's bigint range (larger values are a 400, not a 500)."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """Compares in UTC: ISO 8601 allows offsets PostgreSQL refuses (it stops at ±15:59), and a few extreme
    instants overflow when converted; both are the client's 400, not our 500."""

    def filter(self, qs: QuerySet[Any], value: Any) -> QuerySet[Any]:
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError as exc:
                raise ValidationError(["A date and time filter is out of range."]) from exc
        return super().filter(qs, value)


class StrictFilterSet(django_filters.FilterSet):
    """A filter set that refuses what django-filter would silently ignore: an empty value for a typed filter
    (``?owner=``) and a single-valued parameter given twice. A typed API answers 400 rather than an unfiltered
    list the client did not ask for."""

    multi_value_params: frozenset[str] = frozenset()

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, declared in self.filters.items():
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else []
            if len(values) > 1 and name not in self.multi_value_params:
                self.form.add_error(name, "Give this parameter once.")
                valid = False
            elif values == [""] and not isinstance(declared, django_filters.CharFilter):
                self.form.add_error(name, "Give a value or leave the parameter out.")
                valid = False
        return valid


class _AttributeFilterSet(StrictFilterSet):
    attribute_object_type: str = ObjectType.CONTACT

    def filter_queryset(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return self._filter_attributes(super().filter_queryset(queryset))

    def _filter_attributes(self, queryset: QuerySet[Any]) -> QuerySet[Any]:
        params = [name for name in self.data if name.startswith(ATTRIBUTE_PREFIX)]
        if not params:
            return queryset
        if len(params) > MAX_ATTRIBUTE_FILTERS:
            raise ValidationError({"attr": [f"At most {MAX_ATTRIBUTE_FILTERS} attribute filters."]})
        definitions = selectors.custom_field_definitions_by_key(workspace=self.request.workspace,
                                                                object_type=self.attribute_object_type)
        for name in params:
            definition = definitions.get(name.removeprefix(ATTRIBUTE_PREFIX))
            if definition is None:
                raise ValidationError({printable(name, limit=70): [
                    f"No {self.attribute_object_type} custom field has this key."]})
            for raw in self.data.getlist(name):
                try:
                    value = filter_value_parse(definition=definition, raw=raw)
                except InvalidFields as exc:
                    raise ValidationError(exc.errors) from exc
                queryset = selectors.with_attribute_equal(queryset, definition=definition, value=value)
        return queryset


class ContactFilter(_AttributeFilterSet):
    multi_value_params = frozenset({"tag"})

    email = django_filters.CharFilter(method="filter_email", help_text="Exact address, any case.")
    lifecycle_stage = django_filters.ChoiceFilter(choices=LifecycleStage.choices)
    lead_status = django_filters.ChoiceFilter(choices=LeadStatus.choices)
    email_consent = django_filters.ChoiceFilter(choices=ConsentState.choices)
    sms_consent = django_filters.ChoiceFilter(choices=ConsentState.choices)
    owner = IdFilter(field_name="owner_id", help_text="Id of the owning user.")
    company = IdFilter(field_name="company_id", help_text="Id of the company.")
    external_id = django_filters.CharFilter(max_length=255)
    tag = django_filters.CharFilter(
        method="filter_tag", max_length=100,
        help_text="Contacts carrying this tag (any case). Repeat the parameter to require several tags.",
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_email(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        try:
            return queryset.filter(email=normalize_email(value))
        except ValueError:
            return queryset.none()  # not an address, so no contact has it

    def filter_tag(self, queryset: QuerySet[Contact], name: str, value: str) -> QuerySet[Contact]:
        names = [n for n in self.data.getlist(name) if isinstance(n, str)]
        if any(len(n) > 100 or "\x00" in n for n in names):
            raise ValidationError({"tag": ["Tag names are at most 100 characters long."]})
        return selectors.with_all_tags(queryset, workspace=self.request.workspace, names=names)


class CompanyFilter(_AttributeFilterSet):
    attribute_object_type = ObjectType.COMPANY

    domain = django_filters.CharFilter(method="filter_domain", help_text="The domain, in any spelling of it.")
    industry = django_filters.CharFilter(max_length=100)
    size = django_filters.ChoiceFilter(choices=CompanySize.choices)
    owner = IdFilter(field_name="owner_id", help_text="Id of the owning user.")
    external_id = django_filters.CharFilter(max_length=255, help_text="The company's id in another system.")
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Company
        fields: list[str] = []

    def filter_domain(self, queryset: QuerySet[Company], name: str, value: str) -> QuerySet[Company]:
        try:
            return queryset.filter(domain=normalize_domain(value))
        except ValueError:
            return queryset.none()


class CustomFieldFilter(StrictFilterSet):
    object_type = django_filters.ChoiceFilter(choices=ObjectType.choices)

    class Meta:
        model = CustomFieldDefinition
        fields: list[str] = []
