"""The contact (and company) fields a segment condition may name, with their operators and value parsers.

Blank text counts as "not set": the contact services store a missing e-mail or locale as ``""``, never NULL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

from kith.contacts.attributes import printable
from kith.contacts.models import CompanySize, ConsentState, LeadStatus, LifecycleStage

TEXT_OPS = frozenset({"eq", "neq", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"})
CHOICE_OPS = frozenset({"eq", "neq", "in", "not_in"})
NUMBER_OPS = frozenset({"eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte"})
DATE_OPS = frozenset({"before", "after", "within_last", "more_than_days_ago"})
ID_OPS = frozenset({"eq", "neq", "in", "not_in", "is_set", "is_not_set"})

# op → Django lookup. "before" is strictly earlier, "after" is on or later, so the two split time without a gap.
LOOKUPS = {"eq": "exact", "neq": "exact", "gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte",
           "contains": "icontains", "starts_with": "istartswith", "before": "lt", "after": "gte"}


@dataclass(frozen=True)
class FieldSpec:
    column: str
    ops: frozenset[str]
    parse: Callable[[Any], Any]
    # Whether the column can be NULL (or sit behind a nullable foreign key): "not X" must then include unset rows.
    nullable: bool = False
    blank_is_unset: bool = False

    def is_set(self) -> Q:
        if self.blank_is_unset:
            return Q(**{f"{self.column}__isnull": False}) & ~Q(**{self.column: ""})
        return Q(**{f"{self.column}__isnull": False})


def _text(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value or len(value) > 255:
        raise ValueError("'value' must be text of at most 255 characters")
    return value.strip()


def _lower_text(value: Any) -> str:
    return _text(value).lower()


def _choice(choices: list[str]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            shown = printable(str(value))
            raise ValueError(f"{shown!r} is not one of {', '.join(choices)}")
        return value

    return parse


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > 2**31 - 1:
        raise ValueError("'value' must be a whole number")
    return value


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value < 2**63:
        raise ValueError("'value' must be an id")
    return value


def _moment(value: Any) -> dt.datetime:
    """An ISO date (midnight UTC) or date-time with an offset."""
    if isinstance(value, str):
        text = value.strip()
        try:
            moment = parse_datetime(text)
            if moment is None and (day := parse_date(text)) is not None:
                moment = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        except ValueError:
            moment = None
        if moment is not None:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            try:
                return moment.astimezone(dt.UTC)
            except OverflowError:
                pass
    raise ValueError("'value' must be a date such as 2024-05-31 or a date-time with an offset")


def _text_field(column: str, *, lower: bool = False, nullable: bool = False) -> FieldSpec:
    return FieldSpec(column, TEXT_OPS, _lower_text if lower else _text, nullable=nullable, blank_is_unset=True)


def _date_field(column: str, *, nullable: bool) -> FieldSpec:
    ops = DATE_OPS | {"is_set", "is_not_set"} if nullable else DATE_OPS
    return FieldSpec(column, ops, _moment, nullable=nullable)


FIELDS: dict[str, FieldSpec] = {
    "email": _text_field("email", lower=True),
    "first_name": _text_field("first_name"),
    "last_name": _text_field("last_name"),
    "phone": _text_field("phone"),
    "locale": _text_field("locale"),
    "timezone": _text_field("timezone"),
    "source": _text_field("source"),
    "external_id": _text_field("external_id"),
    "lifecycle_stage": FieldSpec("lifecycle_stage", CHOICE_OPS, _choice(LifecycleStage.values)),
    "lead_status": FieldSpec("lead_status", CHOICE_OPS, _choice(LeadStatus.values)),
    "email_consent": FieldSpec("email_consent", CHOICE_OPS, _choice(ConsentState.values)),
    "sms_consent": FieldSpec("sms_consent", CHOICE_OPS, _choice(ConsentState.values)),
    "engagement_score": FieldSpec("engagement_score", NUMBER_OPS, _number),
    "owner": FieldSpec("owner_id", ID_OPS, _id, nullable=True),
    "company": FieldSpec("company_id", ID_OPS, _id, nullable=True),
    "created_at": _date_field("created_at", nullable=False),
    "updated_at": _date_field("updated_at", nullable=False),
    "last_seen_at": _date_field("last_seen_at", nullable=True),
    "email_consent_changed_at": _date_field("email_consent_changed_at", nullable=True),
    "sms_consent_changed_at": _date_field("sms_consent_changed_at", nullable=True),
    # Company fields go through the contact's company (one LEFT JOIN); a contact without a company has none set.
    "company.name": _text_field("company__name", nullable=True),
    "company.domain": _text_field("company__domain", lower=True, nullable=True),
    "company.industry": _text_field("company__industry", nullable=True),
    "company.size": FieldSpec("company__size", CHOICE_OPS | {"is_set", "is_not_set"},
                              _choice(CompanySize.values), nullable=True, blank_is_unset=True),
}
# The lightweight-CRM seed's text form says "language"; it is the contact's locale.
ALIASES = {"language": "locale"}
