"""The one validator of custom attribute values, used by every write path (services, hence the API, bulk upsert,
and later imports and the event API) and by the ``?attr.<key>=`` filters.

Values are stored JSON-native so that PostgreSQL's jsonb containment (``@>``) can compare them and templates need no
decoding: text and choices as strings, numbers as JSON numbers (integers when integral), booleans as booleans,
dates as ISO strings (``"2024-05-31"``), multiple choices as a list of strings. Inputs are coerced where the meaning
is unambiguous, because imports deliver every value as text: ``"42"`` is a number, ``"yes"`` a boolean.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import math
import re
from collections.abc import Mapping
from typing import Any

from kith.contacts.errors import FieldErrors, InvalidFields
from kith.contacts.models import CHOICE_TYPES, CustomFieldDefinition, FieldType

# Long enough for notes pasted into a field, short enough that one row stays a few kilobytes in lists and exports.
MAX_TEXT_LENGTH = 10_000
# JavaScript clients (the UI, webhooks consumers) lose integer precision beyond 2**53; a round bound below it.
MAX_NUMBER_MAGNITUDE = 10**15
MAX_CHOICES = 200
MAX_CHOICE_LENGTH = 100
# Keys appear in query parameters (?attr.<key>=), merge tags and SQL JSON paths, so only a safe alphabet.
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_TRUE = frozenset({"true", "yes", "y", "1", "on"})
_FALSE = frozenset({"false", "no", "n", "0", "off"})


def printable(text: str, *, limit: int = 64) -> str:
    """``text`` cut to ``limit`` characters without control characters, for echoing client input in errors."""
    return "".join(ch for ch in text if ch.isprintable())[:limit]


def field_name(key: str) -> str:
    """The field-error name of attribute ``key`` (``attributes.plan``); junk keys are made safe to echo."""
    return f"attributes.{printable(key)}"


def value_coerce(*, definition: CustomFieldDefinition, value: Any) -> Any:
    """The stored form of ``value`` for ``definition``; raises ``ValueError`` with a user-facing message."""
    # A plain dict lookup first (TextChoices members hash like their values); FieldType() names an unknown type.
    coerce = _COERCERS.get(definition.field_type) or _COERCERS[FieldType(definition.field_type)]
    return coerce(definition, value)


def _text(definition: CustomFieldDefinition, value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("Expected text.")
    if "\x00" in value:
        raise ValueError("Text may not contain NUL characters.")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValueError(f"Text may be at most {MAX_TEXT_LENGTH:,} characters long.")
    return value


def _number(definition: CustomFieldDefinition, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("Expected a number.")
    if isinstance(value, str):
        try:
            parsed = decimal.Decimal(value.strip())
        except decimal.InvalidOperation as exc:
            raise ValueError("Expected a number.") from exc
        if not parsed.is_finite():
            raise ValueError("Expected a finite number.")
        value = int(parsed) if parsed == parsed.to_integral_value() else float(parsed)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Expected a finite number.")
        if value.is_integer() and abs(value) <= MAX_NUMBER_MAGNITUDE:
            value = int(value)
    if not isinstance(value, int | float):
        raise ValueError("Expected a number.")
    if abs(value) > MAX_NUMBER_MAGNITUDE:
        raise ValueError(f"Numbers must lie between -{MAX_NUMBER_MAGNITUDE:,} and {MAX_NUMBER_MAGNITUDE:,}.")
    return value


def _date(definition: CustomFieldDefinition, value: Any) -> str:
    if isinstance(value, dt.datetime):
        raise ValueError("Expected a date without a time, such as 2024-05-31.")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError as exc:
            raise ValueError("This date does not exist.") from exc
    raise ValueError("Expected a date such as 2024-05-31.")


def _boolean(definition: CustomFieldDefinition, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError("Expected true or false.")


def _choice(definition: CustomFieldDefinition, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("Expected one of the field's choices.")
    # Imports and hand-typed API calls often differ only in case; store the choice as it was defined.
    by_folded = _folded_choices(tuple(definition.choices))
    found = by_folded.get(value.strip().casefold())
    if found is None:
        shown = printable(value, limit=100)
        raise ValueError(f"{shown!r} is not one of the choices: {', '.join(definition.choices)}.")
    return found


@functools.lru_cache(maxsize=512)
def _folded_choices(choices: tuple[str, ...]) -> dict[str, str]:
    """Case-folded choice → choice, built once per list of choices (imports check a million values against it).
    Callers must not modify the result."""
    return {choice.casefold(): choice for choice in choices}


def _single_choice(definition: CustomFieldDefinition, value: Any) -> str:
    return _choice(definition, value)


def _multi_choice(definition: CustomFieldDefinition, value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValueError("Expected a list of the field's choices.")
    chosen: list[str] = []
    for item in items:
        choice = _choice(definition, item)
        if choice not in chosen:
            chosen.append(choice)
    return chosen


_COERCERS = {
    FieldType.TEXT: _text,
    FieldType.NUMBER: _number,
    FieldType.DATE: _date,
    FieldType.BOOLEAN: _boolean,
    FieldType.SINGLE_CHOICE: _single_choice,
    FieldType.MULTI_CHOICE: _multi_choice,
}


def attributes_clean(
    *,
    definitions: Mapping[str, CustomFieldDefinition],
    values: Any,
    current: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Validate a write of custom attribute ``values`` and return the complete ``attributes`` to store.

    ``current`` is ``None`` when the object is being created: every required field must then have a value.
    Otherwise ``values`` is merged into ``current`` (keys not mentioned keep their values) and ``None`` removes a
    value, which a required field refuses. Only the keys written are validated, so a later change to a definition
    (a removed choice, a field made required) never blocks unrelated edits of older rows.

    Raises ``InvalidFields`` naming every bad key as ``attributes.<key>``.
    """
    errors = FieldErrors()
    if not isinstance(values, Mapping):
        errors.add("attributes", "Expected an object mapping custom field keys to values.")
        errors.raise_if_any()
    result: dict[str, Any] = dict(current or {})
    for key, value in values.items():
        definition = definitions.get(key) if isinstance(key, str) else None
        if definition is None:
            errors.add(field_name(str(key)), f"Unknown custom field {printable(str(key))!r}; define it first.")
            continue
        if value is None or value == "" or value == []:
            if definition.required:
                errors.add(field_name(key), "This field is required.")
            result.pop(key, None)
            continue
        try:
            result[key] = value_coerce(definition=definition, value=value)
        except ValueError as exc:
            errors.add(field_name(key), str(exc))
    if current is None:
        for key, definition in definitions.items():
            if definition.required and key not in result and field_name(key) not in errors.errors:
                errors.add(field_name(key), "This field is required.")
    errors.raise_if_any()
    return result


def filter_value_parse(*, definition: CustomFieldDefinition, raw: str) -> Any:
    """The stored form a ``?attr.<key>=raw`` filter compares with; for a multiple-choice field, one choice that
    the stored list must contain. Raises ``InvalidFields`` naming ``attr.<key>``."""
    single = definition
    if definition.field_type == FieldType.MULTI_CHOICE:
        single = CustomFieldDefinition(field_type=FieldType.SINGLE_CHOICE, choices=definition.choices)
    try:
        return value_coerce(definition=single, value=raw)
    except ValueError as exc:
        raise InvalidFields({f"attr.{definition.key}": [str(exc)]}) from exc


def choices_clean(*, field_type: str, choices: Any) -> list[str]:
    """Validate the ``choices`` of a definition: required (and unique ignoring case) for choice fields, empty for
    the others. Raises ``InvalidFields`` naming ``choices``."""
    errors = FieldErrors()
    if field_type not in CHOICE_TYPES:
        if choices:
            errors.add("choices", "Only single- and multiple-choice fields have choices.")
        errors.raise_if_any()
        return []
    if not isinstance(choices, list | tuple) or not choices:
        errors.add("choices", "List at least one choice.")
        errors.raise_if_any()
    cleaned: list[str] = []
    seen: set[str] = set()
    for choice in choices:
        if not isinstance(choice, str) or not choice.strip() or "\x00" in choice:
            errors.add("choices", "Each choice must be non-empty text.")
            continue
        choice = choice.strip()
        if len(choice) > MAX_CHOICE_LENGTH:
            errors.add("choices", f"Each choice may be at most {MAX_CHOICE_LENGTH} characters long.")
        elif choice.casefold() in seen:
            errors.add("choices", f"{choice!r} is listed twice.")
        else:
            seen.add(choice.casefold())
            cleaned.append(choice)
    if len(cleaned) > MAX_CHOICES:
        errors.add("choices", f"At most {MAX_CHOICES} choices.")
    errors.raise_if_any()
    return cleaned
