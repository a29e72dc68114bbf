"""Set-based writes of one batch of cleaned records: stage, then one upsert, then one insert of tag links.

The batch is first loaded into a temporary staging table (``COPY`` on PostgreSQL, ``executemany`` on SQLite),
then written with one ``INSERT … SELECT … ON CONFLICT`` against the partial unique index of the upsert key
(``(workspace_id, email) WHERE NOT (email = '')``) for new records, one ``UPDATE … FROM`` the staging table for
existing ones (blank cells keep the stored value, which ``ON CONFLICT DO UPDATE`` cannot express: its EXCLUDED
row has no NULLs for NOT NULL columns), and tag links with one ``INSERT … SELECT`` that skips links that exist. The same statements run on both databases; only JSON functions differ. Values are already normalized
by ``kith.imports.rows`` with the contacts app's validators, so the database constraints never see bad data.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection
from django.db.models import Model

from kith.contacts.models import Company, Contact, ContactTag, Tag
from kith.imports.models import ImportKind
from kith.imports.rows import Record

STAGE = "kith_import_stage"


@dataclass(frozen=True)
class BatchPlan:
    """What every batch of one import writes: the table, the key it matches on, the plain fields the file maps."""

    kind: str
    key: str
    fields: tuple[str, ...]  # mapped plain fields (model field names), the key included
    update_existing: bool
    # Who the import's stage-history rows name (deals): the member who created the import.
    actor_id: int | None = None

    @property
    def model(self) -> type[Model]:
        return Contact if self.kind == ImportKind.CONTACTS else Company

    @property
    def tagged(self) -> bool:
        return self.kind == ImportKind.CONTACTS


# Columns a new record gets when the file does not map them, beyond the model defaults.
_INSERT_DEFAULTS = {ImportKind.CONTACTS: {"source": "import"}, ImportKind.COMPANIES: {}}
_CONSENT = {"email_consent": "email_consent_changed_at", "sms_consent": "sms_consent_changed_at"}


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _defaults(plan: BatchPlan) -> dict[str, object]:
    """Values of the NOT NULL columns the file does not map, for new records."""
    skip = {"id", "workspace", "created_at", "updated_at", "attributes", *plan.fields}
    found: dict[str, object] = {}
    for model_field in plan.model._meta.concrete_fields:
        if model_field.name in skip or model_field.null:
            continue
        found[model_field.column] = _INSERT_DEFAULTS[plan.kind].get(model_field.name, model_field.get_default())
    return found


def _stage(plan: BatchPlan, records: Sequence[Record], existing: set[str]) -> None:
    table = plan.model._meta.db_table
    columns = [plan.model._meta.get_field(name).column for name in plan.fields]
    selected = ", ".join(_q(c) for c in [*columns, "attributes"])
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        # CREATE … AS SELECT copies the column types but not the NOT NULL constraints: a cell left blank is
        # staged as NULL, which the update reads as "keep the current value".
        cursor.execute(f"CREATE TEMP TABLE {STAGE} AS SELECT 0 AS n, 0 AS fresh, '' AS tags, {selected} "
                       f"FROM {_q(table)} WHERE 1 = 0")
        rows = (_stage_row(plan, record, fresh=record.key not in existing, postgres=postgres) for record in records)
        if all(record.staged is not None for record in records):  # built ahead, in the reader thread
            rows = (_with_fresh(record.staged, record.key not in existing) for record in records)
        names = ", ".join(["n", "fresh", "tags", *(_q(c) for c in columns), "attributes"])
        if postgres:
            with cursor.cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * (len(columns) + 4))
            cursor.executemany(f"INSERT INTO {STAGE} ({names}) VALUES ({marks})", list(rows))
        # No ANALYZE: a never-analyzed table is estimated from its size on disk, which is right for a batch, and
        # the joins below match on the unique index anyway (ANALYZE cost more per batch than it saved).


def stage_values(plan: BatchPlan, record: Record, *, postgres: bool) -> list[object]:
    """``record``'s row of the staging table, its "fresh" column (whether the record is new) left ``None``: pure
    Python, so the import builds it in the reader thread while the previous batch is being written."""
    # Tags are staged by their folded key, what the tag table's unique index matches on.
    keys = record.tag_keys if record.tag_keys or not record.tags else tuple(_tag_key(name) for name in record.tags)
    values: list[object] = [record.number, None, _keys_json(keys) if keys else "[]"]
    get = record.values.get
    for name in plan.fields:
        value = get(name)
        if not postgres and isinstance(value, dt.datetime):
            value = connection.ops.adapt_datetimefield_value(value)
        values.append(value)
    values.append(_json(record.attributes))
    return values


def _with_fresh(row: list[object], fresh: bool) -> list[object]:
    row[1] = 1 if fresh else 0
    return row


def _stage_row(plan: BatchPlan, record: Record, *, fresh: bool, postgres: bool) -> list[object]:
    return _with_fresh(stage_values(plan, record, postgres=postgres), fresh)


# json.dumps with options builds an encoder per call; one reused encoder is several times faster per row.
_json = json.JSONEncoder(separators=(",", ":")).encode
# The same few tag combinations recur on many rows: encode each once.
_keys_json = functools.lru_cache(maxsize=4096)(lambda keys: _json(list(keys)))
# A file repeats a few tag names on every row; fold each spelling once.
_tag_key = functools.lru_cache(maxsize=4096)(Tag.key_for)


@dataclass(frozen=True)
class BatchResult:
    created: int
    updated: int


def batch_write(
    *, plan: BatchPlan, workspace_id: int, records: Sequence[Record], existing: set[str], now: dt.datetime
) -> BatchResult:
    """Insert the ``records`` whose key is not in ``existing``, update the others (when the plan says so), and
    add their tags. Keys are unique within the batch. Runs in the caller's transaction; an ``IntegrityError``
    (another unique value taken, e.g. an external id) leaves the batch to the caller, which retries it row by row
    to find the culprit.

    A record created by someone else between the caller's lookup of ``existing`` and this insert is left alone
    (``ON CONFLICT … DO NOTHING``) and not counted as created.
    """
    if not records:
        return BatchResult(0, 0)
    _stage(plan, records, existing)
    updated = 0
    with connection.cursor() as cursor:
        sql, params = _insert_sql(plan, workspace_id=workspace_id, now=now)
        cursor.execute(sql, params)
        created = cursor.rowcount
        if plan.update_existing and len(records) > created:
            sql, params = _update_sql(plan, workspace_id=workspace_id, now=now)
            cursor.execute(sql, params)
            updated = cursor.rowcount
        if plan.tagged and any(record.tags for record in records):
            sql, params = _links_sql(plan, workspace_id=workspace_id, now=now)
            cursor.execute(sql, params)
    return BatchResult(created=created, updated=updated)


def _now_param(now: dt.datetime) -> object:
    return now if connection.vendor == "postgresql" else connection.ops.adapt_datetimefield_value(now)


def _insert_sql(plan: BatchPlan, *, workspace_id: int, now: dt.datetime) -> tuple[str, list[object]]:
    meta = plan.model._meta
    table, key = _q(meta.db_table), _q(meta.get_field(plan.key).column)
    defaults = _defaults(plan)
    stamp = _now_param(now)
    insert_cols = ["workspace_id", "created_at", "updated_at", "attributes", *defaults]
    select = ["%s", "%s", "%s", "s.attributes", *(["%s"] * len(defaults))]
    params: list[object] = [workspace_id, stamp, stamp, *defaults.values()]
    for name in plan.fields:
        model_field = meta.get_field(name)
        insert_cols.append(model_field.column)
        if model_field.null:
            select.append(f"s.{_q(model_field.column)}")
        else:
            select.append(f"COALESCE(s.{_q(model_field.column)}, %s)")
            params.append(_INSERT_DEFAULTS[plan.kind].get(name, model_field.get_default()))
        if name in _CONSENT:
            # Consent is recorded with the time it changed (the proof a regulator asks for), as the services do.
            insert_cols.append(_CONSENT[name])
            select.append(f"CASE WHEN s.{name} <> 'unknown' THEN %s END")
            params.append(stamp)
    sql = (f"INSERT INTO {table} ({', '.join(_q(c) for c in insert_cols)}) "
           f"SELECT {', '.join(select)} FROM {STAGE} s WHERE s.fresh = 1 "
           f"ON CONFLICT (workspace_id, {key}) WHERE NOT ({key} = '') DO NOTHING")
    return sql, params


def _update_sql(plan: BatchPlan, *, workspace_id: int, now: dt.datetime) -> tuple[str, list[object]]:
    """Existing records get the file's non-blank values; custom attributes are merged into theirs."""
    meta = plan.model._meta
    table, key = _q(meta.db_table), _q(meta.get_field(plan.key).column)
    stamp = _now_param(now)
    sets: list[str] = []
    params: list[object] = []
    for name in plan.fields:
        column = _q(meta.get_field(name).column)
        if name == plan.key:
            continue
        if name in _CONSENT:
            changed_at = _CONSENT[name]
            sets.append(f"{changed_at} = CASE WHEN s.{name} IS NOT NULL AND s.{name} <> {table}.{name} THEN %s "
                        f"ELSE {table}.{changed_at} END")
            params.append(stamp)
        sets.append(f"{column} = COALESCE(s.{column}, {table}.{column})")
    merge = (f"{table}.attributes || s.attributes" if connection.vendor == "postgresql"
             else f"json_patch({table}.attributes, s.attributes)")
    sets += [f"attributes = {merge}", "updated_at = %s"]
    params += [stamp, workspace_id]
    sql = (f"UPDATE {table} SET {', '.join(sets)} FROM {STAGE} s "
           f"WHERE s.fresh = 0 AND {table}.workspace_id = %s AND {table}.{key} = s.{key} "
           # Repeats the partial unique index's condition so the planner may use that index for the match.
           f"AND NOT ({table}.{key} = '')")
    return sql, params


def _links_sql(plan: BatchPlan, *, workspace_id: int, now: dt.datetime) -> tuple[str, list[object]]:
    """One statement linking every staged contact to its tags (the tags exist: ``tags_get_or_create`` ran)."""
    contacts, tags, links = (_q(m._meta.db_table) for m in (Contact, Tag, ContactTag))
    key = _q(Contact._meta.get_field(plan.key).column)
    if connection.vendor == "postgresql":
        names = "jsonb_array_elements_text(s.tags::jsonb) AS k(value)"
    else:
        names = "json_each(s.tags) AS k"
    stamp = _now_param(now)
    sql = (f"INSERT INTO {links} (contact_id, tag_id, created_at, updated_at) "
           f"SELECT c.id, g.id, %s, %s FROM {STAGE} s "
           f"JOIN {contacts} c ON c.workspace_id = %s AND c.{key} = s.{key} AND NOT (c.{key} = '') "
           f"CROSS JOIN {names} "
           f"JOIN {tags} g ON g.workspace_id = %s AND g.name_key = k.value "
           f"WHERE s.tags <> '[]' ON CONFLICT (contact_id, tag_id) DO NOTHING")
    return sql, [stamp, stamp, workspace_id, workspace_id]
