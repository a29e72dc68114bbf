"""The simple text form of a segment, as the lightweight-CRM seed writes it: ``language=en&plan=pro``.

Each ``key=value`` pair is an equality condition and all must hold. A key is a custom attribute when the workspace
defines one, else a contact field (``language`` means the locale); the result is an ordinary definition tree, so
the compiler validates it like any other.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any
from urllib.parse import parse_qsl

from kith.contacts.attributes import printable
from kith.segments import fields
from kith.segments.errors import InvalidSegment

MAX_TEXT_LENGTH = 4_000


def text_form_parse(text: str, *, attribute_keys: Collection[str]) -> dict[str, Any]:
    """The definition tree of ``text``; raises ``InvalidSegment`` for text that is not ``key=value&...``."""
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidSegment(f"definition: the text form may be at most {MAX_TEXT_LENGTH} characters")
    try:
        pairs = parse_qsl(text.strip(), keep_blank_values=True, strict_parsing=True, max_num_fields=100)
    except ValueError as exc:
        raise InvalidSegment("definition: expected key=value pairs joined by &, such as language=en&plan=pro") \
            from exc
    conditions: list[dict[str, Any]] = []
    for index, (key, value) in enumerate(pairs):
        if key in attribute_keys:
            conditions.append({"attr": key, "op": "eq", "value": value})
            continue
        name = fields.ALIASES.get(key, key)
        if name not in fields.FIELDS:
            raise InvalidSegment(f"all[{index}]: unknown field or attribute {printable(key)!r}")
        conditions.append({"field": name, "op": "eq", "value": value})
    return {"all": conditions}
