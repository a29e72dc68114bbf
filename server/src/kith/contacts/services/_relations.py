"""Every row that points at a contact, found by introspection, so a merge covers foreign keys that other apps add
later (tasks, events, tracking, imports …) without being told about them.

Three jobs: list the relations (``contact_relations``); find the loser's rows that would break a unique constraint
if re-pointed at the winner (``conflicting_ids``); and keep rows that must leave the database as JSON that can be
put back exactly (``set_aside_collect`` / ``set_aside_restore``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from kith.contacts.models import Contact, ContactMerge, DuplicateDismissal
from kith.core.audit import _json_safe
from kith.core.errors import Conflict

# Bookkeeping about contacts rather than facts of a contact: never moved by a merge. (Dismissals go with the loser
# and come back on undo, through the set-aside rows; a merge record keeps pointing at the contact that won it.)
NOT_MOVED: frozenset[type[models.Model]] = frozenset({ContactMerge, DuplicateDismissal})


@dataclass(frozen=True)
class Relation:
    model: type[models.Model]
    field: models.ForeignKey[Any, Any]

    @property
    def key(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"


def contact_relations() -> list[Relation]:
    """Every foreign key (and one-to-one) to ``Contact``, hidden ones (``related_name="+"``) and the through tables
    of many-to-many fields included, in a stable order."""
    found = []
    for rel in Contact._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)):
            continue
        model = rel.related_model
        if model in NOT_MOVED or model._meta.proxy or not model._meta.managed:
            continue
        found.append(Relation(model=model, field=rel.field))
    return sorted(found, key=lambda r: r.key)


def relation_by_key(key: str) -> Relation | None:
    return next((r for r in contact_relations() if r.key == key), None)


def _unique_sets(model: type[models.Model], field: models.Field[Any, Any]) -> list[tuple[list[str], Q | None]]:
    """The unique constraints of ``model`` that include ``field``: (the other field names, the condition)."""
    sets: list[tuple[list[str], Q | None]] = []
    if field.unique:
        sets.append(([], None))
    for together in model._meta.unique_together:
        if field.name in together:
            sets.append(([name for name in together if name != field.name], None))
    for constraint in model._meta.total_unique_constraints + [
        c for c in model._meta.constraints if isinstance(c, models.UniqueConstraint) and c.condition is not None
    ]:
        if constraint.fields and field.name in constraint.fields:
            others = [name for name in constraint.fields if name != field.name]
            sets.append((others, constraint.condition))
    return sets


def conflicting_ids(relation: Relation, *, loser_id: int, winner_id: int) -> set[Any]:
    """Ids of the loser's rows that an equal row of the winner would make violate a unique constraint if moved.
    One query per unique constraint that includes the foreign key (set-based, whatever the number of rows)."""
    manager = relation.model._base_manager
    attname = relation.field.attname
    ids: set[Any] = set()
    for others, condition in _unique_sets(relation.model, relation.field):
        winners = manager.filter(**{attname: winner_id})
        losers = manager.filter(**{attname: loser_id})
        if condition is not None:
            winners, losers = winners.filter(condition), losers.filter(condition)
        match = {f"{relation.model._meta.get_field(n).attname}": OuterRef(relation.model._meta.get_field(n).attname)
                 for n in others}
        ids |= set(losers.filter(Exists(winners.filter(**match))).values_list("pk", flat=True))
    return ids


def serialize_rows(instances: Iterable[models.Model]) -> list[dict[str, Any]]:
    """Rows in Django's serializer format, JSON-safe with full precision (the JSON serializer would cut
    timestamps to milliseconds, and undo must put back exactly what was there)."""
    return [_json_safe(row) for row in serializers.serialize("python", list(instances))]


def deserialize_rows(rows: list[dict[str, Any]]) -> Iterator[Any]:
    return serializers.deserialize("python", rows)


def set_aside_collect(loser: Contact) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What deleting ``loser`` would take with it (besides the loser itself), as JSON rows in the order they must be
    re-inserted, and the nullable references it would clear, as ``{"model", "field", "pk", "value"}``.

    Raises ``Conflict`` when a protected reference forbids deleting the loser.
    """
    collector = Collector(using=loser._state.db or "default", origin=loser)
    try:
        collector.collect([loser])
    except (ProtectedError, RestrictedError) as exc:
        blockers = sorted({obj._meta.verbose_name_plural for obj in exc.args[1]})
        raise Conflict(f"These records still point at the duplicate and cannot be moved: {', '.join(blockers)}.") \
            from exc
    collector.sort()
    rows: list[dict[str, Any]] = []
    # Deletion order is dependants first; re-insertion is the reverse. Fast deletes have no dependants of their own.
    for model, instances in reversed(list(collector.data.items())):
        if model is not Contact:
            rows += serialize_rows(sorted(instances, key=lambda o: o.pk))
    for queryset in collector.fast_deletes:
        rows += serialize_rows(queryset.order_by("pk"))
    nulled: list[dict[str, Any]] = []
    for (field, _value), batches in collector.field_updates.items():
        for batch in batches:
            pks = [obj.pk for obj in batch]
            for pk, old in field.model._base_manager.filter(pk__in=pks).values_list("pk", field.attname):
                if old is not None and not (field.model is Contact and pk == loser.pk):
                    nulled.append({"model": field.model._meta.label, "field": field.attname, "pk": pk, "value": old})
    return rows, nulled


def _targets_exist(obj: models.Model) -> bool:
    """Whether the row's non-null references still exist; a nullable reference to a row deleted since is cleared."""
    for field in obj._meta.concrete_fields:
        if not field.is_relation or field.many_to_many:
            continue
        value = getattr(obj, field.attname)
        if value is None:
            continue
        if not field.related_model._base_manager.filter(pk=value).exists():
            if not field.null:
                return False
            setattr(obj, field.attname, None)
    return True


def set_aside_restore(rows: list[dict[str, Any]], nulled: list[dict[str, Any]]) -> list[str]:
    """Put set-aside rows back with their own primary keys and re-set the cleared references. A row whose required
    reference was deleted since (a tag removed from the workspace) cannot come back; it is skipped and named in the
    returned list rather than failing the whole undo."""
    skipped: list[str] = []
    for item in deserialize_rows(rows):
        obj = item.object
        if type(obj)._base_manager.filter(pk=obj.pk).exists():
            raise Conflict(f"A {obj._meta.verbose_name} of the merged contact exists again; the merge cannot be undone.")
        if not _targets_exist(obj):
            skipped.append(f"{obj._meta.label} {obj.pk}")
            continue
        # A raw save: the row comes back as it was, timestamps included (``auto_now`` is not applied).
        item.save(force_insert=True)
    for entry in nulled:
        model = apps.get_model(entry["model"])
        model._base_manager.filter(pk=entry["pk"], **{f"{entry['field']}__isnull": True}).update(
            **{entry["field"]: entry["value"]})
    return skipped
