"""Compile a segment definition (a JSON filter tree) into one ``Q`` on ``Contact``.

Shape: a node is ``{"all": [node, ...]}``, ``{"any": [node, ...]}``, ``{"not": node}`` or a condition:

- ``{"field": "lifecycle_stage", "op": "eq", "value": "customer"}`` — contact fields (``kith.segments.fields``),
  company fields as ``company.industry``;
- ``{"attr": "plan", "op": "in", "value": ["pro", "team"]}`` — custom attributes, typed by their definition;
- ``{"tag": "vip"}`` (``"op": "has"`` or ``"not_has"``);
- ``{"event": "Purchase Completed", "op": "at_least", "count": 2, "within_days": 90}`` (also ``at_most``,
  ``exactly``, ``never``);
- ``{"message": "opened", "within_days": 60}`` (``opened``, ``clicked``, ``received``; optional ``channel``);
- ``{"segment": 12}`` — membership of another segment of the workspace (inlined; cycles are refused).

Everything becomes column comparisons and correlated ``EXISTS`` subqueries, so counting or listing a segment is
one SQL statement whatever its shape. Compiling itself reads the workspace's custom field definitions and the
referenced segments (a few small queries, once); it never touches contacts.

Every error is an ``InvalidSegment`` whose message starts with the path of the bad node: ``all[1].any[0]: unknown
field 'lang'``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import BooleanField, Count, Exists, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.db.models.lookups import GreaterThanOrEqual, LessThan

from kith.accounts.models import Workspace
from kith.contacts.attributes import printable, value_coerce
from kith.contacts.models import (
    Contact,
    ContactTag,
    CustomFieldDefinition,
    FieldType,
    ObjectType,
    Tag,
)
from kith.core import clock
from kith.events.models import Event, EventType
from kith.messaging.models import Channel, Message
from kith.segments import fields as contact_fields
from kith.segments.errors import InvalidSegment

# A definition is typed by people and stored; these bounds keep one from becoming a query the database chokes on.
MAX_CONDITIONS = 100
MAX_DEPTH = 12
MAX_LIST_VALUES = 500
MAX_DAYS = 36_500  # a century: "within the last N days" beyond that is a typo, and datetime arithmetic overflows
MAX_COUNT = 1_000_000

ATTRIBUTE_OPS: dict[str, frozenset[str]] = {
    FieldType.TEXT: frozenset({"eq", "neq", "in", "not_in", "is_set", "is_not_set"}),
    FieldType.NUMBER: frozenset({"eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "is_set", "is_not_set"}),
    FieldType.DATE: frozenset({"eq", "neq", "before", "after", "is_set", "is_not_set"}),
    FieldType.BOOLEAN: frozenset({"eq", "neq", "is_set", "is_not_set"}),
    FieldType.SINGLE_CHOICE: frozenset({"eq", "neq", "in", "not_in", "is_set", "is_not_set"}),
    FieldType.MULTI_CHOICE: frozenset({"contains", "not_contains", "is_set", "is_not_set"}),
}
EVENT_OPS = frozenset({"at_least", "at_most", "exactly", "never"})
MESSAGE_KINDS = {"opened": "opened_at", "clicked": "clicked_at", "received": "sent_at"}
NODE_KEYS = ("all", "any", "not", "field", "attr", "tag", "event", "message", "segment")

# Loads another segment's definition by id within the workspace; None when there is no such segment.
SegmentLoader = Callable[[int], Any]


@dataclass
class _Context:
    workspace: Workspace
    load_segment: SegmentLoader
    now: dt.datetime
    supports_contains: bool
    attributes: dict[str, CustomFieldDefinition] | None = None
    conditions: int = 0
    # Ids of the segments being expanded, innermost last: a reference to one of them is a cycle.
    stack: list[int] = field(default_factory=list)


def compile_definition(
    definition: Any, *, workspace: Workspace, load_segment: SegmentLoader, segment_id: int | None = None
) -> Q:
    """The ``Q`` selecting the contacts of ``definition`` (to apply to the workspace's contacts).

    ``load_segment(id)`` returns the stored definition of a segment of the same workspace, or ``None``;
    ``segment_id`` is the segment being compiled, if saved, so that referring to itself is a cycle.
    Raises ``InvalidSegment`` naming the first bad condition."""
    context = _Context(workspace=workspace, load_segment=load_segment, now=clock.now(),
                       supports_contains=connections[DEFAULT_DB_ALIAS].features.supports_json_field_contains,
                       stack=[segment_id] if segment_id is not None else [])
    return _node(definition, "definition", context, depth=0)


def _fail(path: str, message: str) -> InvalidSegment:
    return InvalidSegment(f"{path}: {message}")


def _node(node: Any, path: str, context: _Context, *, depth: int) -> Q:
    if depth > MAX_DEPTH:
        raise _fail(path, f"nested more than {MAX_DEPTH} levels deep")
    if not isinstance(node, Mapping):
        raise _fail(path, "expected an object such as {\"all\": [...]} or a condition")
    kinds = [key for key in NODE_KEYS if key in node]
    if len(kinds) != 1:
        raise _fail(path, "give exactly one of " + ", ".join(NODE_KEYS))
    kind = kinds[0]
    if kind in ("all", "any"):
        return _group(kind, node, path, context, depth)
    if kind == "not":
        _only_keys(node, {"not"}, path)
        return ~_node(node["not"], f"{path}.not" if path != "definition" else "not", context, depth=depth + 1)
    context.conditions += 1
    if context.conditions > MAX_CONDITIONS:
        raise _fail(path, f"a segment may have at most {MAX_CONDITIONS} conditions")
    handler = _CONDITIONS[kind]
    return handler(node, path, context, depth)


def _child_path(path: str, kind: str, index: int) -> str:
    return f"{kind}[{index}]" if path == "definition" else f"{path}.{kind}[{index}]"


def _group(kind: str, node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {kind}, path)
    children = node[kind]
    if not isinstance(children, list) or not children:
        raise _fail(path, f"'{kind}' needs a non-empty list of conditions")
    result = Q()
    for index, child in enumerate(children):
        compiled = _node(child, _child_path(path, kind, index), context, depth=depth + 1)
        result = (result & compiled) if kind == "all" or index == 0 else (result | compiled)
    return result


def _only_keys(node: Mapping[str, Any], allowed: set[str], path: str) -> None:
    extra = sorted(str(key) for key in node if key not in allowed)
    if extra:
        raise _fail(path, f"unexpected key {printable(extra[0])!r}")


def _op(node: Mapping[str, Any], allowed: frozenset[str], path: str, default: str | None = None) -> str:
    op = node.get("op", default)
    if not isinstance(op, str) or op not in allowed:
        shown = printable(str(op)) if op is not None else "(missing)"
        raise _fail(path, f"operator {shown!r} is not one of {', '.join(sorted(allowed))}")
    return op


def _days(node: Mapping[str, Any], key: str, path: str, *, required: bool) -> int | None:
    value = node.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        raise _fail(path, f"'{key}' must be a whole number of days from 1 to {MAX_DAYS}")
    return value


# --- contact and company fields -------------------------------------------------------------------------------


def _field_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"field", "op", "value", "days"}, path)
    name = node["field"]
    spec = contact_fields.FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise _fail(path, f"unknown field {printable(str(name))!r}")
    op = _op(node, spec.ops, path)
    if op in ("is_set", "is_not_set"):
        q = spec.is_set()
        return q if op == "is_set" else ~q
    if op in ("within_last", "more_than_days_ago"):
        days = _days(node, "days", path, required=True)
        assert days is not None
        since = context.now - dt.timedelta(days=days)
        return Q(**{f"{spec.column}__gte": since}) if op == "within_last" else Q(**{f"{spec.column}__lt": since})
    if op in ("in", "not_in"):
        values = _list(node, path)
        parsed = [_parse(spec.parse, item, path) for item in values]
        q = Q(**{f"{spec.column}__in": parsed})
        if op == "in":
            return q
        return ~q | ~spec.is_set() if spec.nullable else ~q
    value = _parse(spec.parse, node.get("value"), path)
    lookup = contact_fields.LOOKUPS[op]
    q = Q(**{f"{spec.column}__{lookup}": value})
    if op == "neq":
        # "Not X" includes the contacts with no value at all (SQL's NOT would drop NULLs).
        return ~q | ~spec.is_set() if spec.nullable else ~q
    return q


def _list(node: Mapping[str, Any], path: str) -> list[Any]:
    values = node.get("value")
    if not isinstance(values, list) or not values:
        raise _fail(path, "'value' must be a non-empty list")
    if len(values) > MAX_LIST_VALUES:
        raise _fail(path, f"at most {MAX_LIST_VALUES} values")
    return values


def _parse(parse: Callable[[Any], Any], value: Any, path: str) -> Any:
    try:
        return parse(value)
    except ValueError as exc:
        raise _fail(path, str(exc)) from exc


# --- custom attributes ----------------------------------------------------------------------------------------


def _attribute_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"attr", "op", "value"}, path)
    if context.attributes is None:
        context.attributes = {d.key: d for d in CustomFieldDefinition.objects.for_workspace(context.workspace)
                              .filter(object_type=ObjectType.CONTACT)}
    key = node["attr"]
    definition = context.attributes.get(key) if isinstance(key, str) else None
    if definition is None:
        raise _fail(path, f"unknown custom attribute {printable(str(key))!r}")
    op = _op(node, ATTRIBUTE_OPS[definition.field_type], path)
    has_key = Q(attributes__has_key=definition.key)
    if op in ("is_set", "is_not_set"):
        return has_key if op == "is_set" else ~has_key
    if definition.field_type == FieldType.MULTI_CHOICE:
        single = CustomFieldDefinition(field_type=FieldType.SINGLE_CHOICE, choices=definition.choices)
        choice = _coerce(single, node.get("value"), path)
        q = _list_contains(definition.key, choice, context)
        return q if op == "contains" else ~q
    if op in ("in", "not_in"):
        values = [_coerce(definition, item, path) for item in _list(node, path)]
        q = Q(**{f"attributes__{definition.key}__in": values})
        return q if op == "in" else ~q | ~has_key
    value = _coerce(definition, node.get("value"), path)
    if definition.field_type == FieldType.DATE and op in ("before", "after"):
        # Dates are ISO strings: compared as text (->> / json_extract), which orders them correctly on both
        # databases, where a JSON comparison would not.
        compare = LessThan if op == "before" else GreaterThanOrEqual
        return Q(compare(KT(f"attributes__{definition.key}"), value))
    if op in ("eq", "neq") and context.supports_contains:
        # jsonb containment (attributes @> '{"plan": "pro"}') on PostgreSQL: the GIN index of contacts migration
        # 0002 can serve it, and the planner estimates its selectivity from that index instead of guessing a
        # handful of rows for "attributes -> 'plan' = '"pro"'" — the guess made it pick a nested-loop plan that was
        # 1.6× slower than the hand-written count at a million contacts (bench/segment_count.py). Values are
        # coerced to the attribute's scalar type above, so containment and equality select the same contacts.
        q = Q(attributes__contains={definition.key: value})
        return ~q if op == "neq" else q
    lookup = contact_fields.LOOKUPS[op]
    q = Q(**{f"attributes__{definition.key}__{lookup}": value})
    return ~q | ~has_key if op == "neq" else q & has_key


def _coerce(definition: CustomFieldDefinition, value: Any, path: str) -> Any:
    if value is None or isinstance(value, dict | list):
        raise _fail(path, "'value' must be a single value of the attribute's type")
    try:
        return value_coerce(definition=definition, value=value)
    except ValueError as exc:
        raise _fail(path, str(exc)) from exc


def _list_contains(key: str, choice: str, context: _Context) -> Q:
    """Contacts whose multiple-choice list ``key`` holds ``choice``: jsonb containment on PostgreSQL (served by the
    GIN index of contacts migration 0002), ``json_each`` on SQLite. The key is a validated slug, the choice a
    bound parameter."""
    if context.supports_contains:
        return Q(attributes__contains={key: [choice]})
    table = connections[DEFAULT_DB_ALIAS].ops.quote_name(Contact._meta.db_table)
    return Q(RawSQL(
        f'EXISTS (SELECT 1 FROM json_each({table}."attributes", %s) AS items WHERE items.value = %s)',
        (f'$."{key}"', choice), output_field=BooleanField(),
    ))


# --- tags, events, messages, segments -------------------------------------------------------------------------


def _tag_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"tag", "op"}, path)
    name = node["tag"]
    if not isinstance(name, str) or not name.strip() or len(name) > 100 or "\x00" in name:
        raise _fail(path, "'tag' must be a tag name of 1 to 100 characters")
    op = _op(node, frozenset({"has", "not_has"}), path, default="has")
    # By name key in the subquery rather than a tag id looked up first: no extra query, and a tag created later
    # starts matching without re-saving the segment. (contact, tag) is unique, so this is an index probe.
    exists = Exists(ContactTag.objects.filter(contact_id=OuterRef("pk"), tag__workspace=context.workspace,
                                              tag__name_key=Tag.key_for(name)))
    return Q(exists) if op == "has" else ~Q(exists)


def _event_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"event", "op", "count", "within_days"}, path)
    name = node["event"]
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or "\x00" in name:
        raise _fail(path, "'event' must be an event name of 1 to 255 characters")
    op = _op(node, EVENT_OPS, path)
    days = _days(node, "within_days", path, required=False)
    # Served by the event_ws_contact_name_ts index (workspace, contact, name, timestamp): a range scan per contact.
    events = Event.objects.filter(workspace=context.workspace, contact_id=OuterRef("pk"), name=name,
                                  type=EventType.TRACK)
    if days is not None:
        events = events.filter(timestamp__gte=context.now - dt.timedelta(days=days))
    if op == "never":
        if "count" in node:
            raise _fail(path, "'never' takes no count")
        return ~Q(Exists(events))
    count = node.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise _fail(path, f"'count' must be a whole number from 0 to {MAX_COUNT}")
    if op == "at_least" and count <= 1:
        return Q(Exists(events)) if count == 1 else Q()
    if op == "exactly" and count == 0:
        return ~Q(Exists(events))
    counted = events.order_by().values("contact_id").annotate(n=Count("id"))
    if op == "at_least":
        return Q(Exists(counted.filter(n__gte=count)))
    if op == "exactly":
        return Q(Exists(counted.filter(n=count)))
    return ~Q(Exists(counted.filter(n__gt=count)))  # at_most


def _message_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"message", "within_days", "channel", "op"}, path)
    kind = node["message"]
    column = MESSAGE_KINDS.get(kind) if isinstance(kind, str) else None
    if column is None:
        raise _fail(path, f"'message' must be one of {', '.join(MESSAGE_KINDS)}")
    op = _op(node, frozenset({"any", "none"}), path, default="any")
    days = _days(node, "within_days", path, required=False)
    messages = Message.objects.filter(workspace=context.workspace, contact_id=OuterRef("pk"),
                                      **{f"{column}__isnull": False})
    if days is not None:
        messages = messages.filter(**{f"{column}__gte": context.now - dt.timedelta(days=days)})
    channel = node.get("channel")
    if channel is not None:
        if channel not in Channel.values:
            raise _fail(path, f"'channel' must be one of {', '.join(Channel.values)}")
        messages = messages.filter(channel=channel)
    return Q(Exists(messages)) if op == "any" else ~Q(Exists(messages))


def _segment_condition(node: Mapping[str, Any], path: str, context: _Context, depth: int) -> Q:
    _only_keys(node, {"segment"}, path)
    segment_id = node["segment"]
    if isinstance(segment_id, bool) or not isinstance(segment_id, int) or not 1 <= segment_id < 2**63:
        raise _fail(path, "'segment' must be a segment id")
    if segment_id in context.stack:
        raise _fail(path, f"segment {segment_id} refers back to itself (a cycle)")
    definition = context.load_segment(segment_id)
    if definition is None:
        raise _fail(path, f"no segment {segment_id} in this workspace")
    context.stack.append(segment_id)
    try:
        return _node(definition, f"{path}→segment {segment_id}", context, depth=depth + 1)
    finally:
        context.stack.pop()


_CONDITIONS: dict[str, Callable[[Mapping[str, Any], str, _Context, int], Q]] = {
    "field": _field_condition,
    "attr": _attribute_condition,
    "tag": _tag_condition,
    "event": _event_condition,
    "message": _message_condition,
    "segment": _segment_condition,
}

