"""The accept path of the event API: store the raw events in one statement and ring the processing job.

Nothing here looks up contacts or runs workflows: a request costs one INSERT (plus the job row), whatever its
events mean, so clients are answered in milliseconds and ingestion scales with the database's insert rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from kith.core.jobs import enqueue_on_commit
from kith.events.ingest import EventRow
from kith.events.models import Event
from kith.events.services.processing import events_process_task

# SQLite allows 32,766 bound parameters per statement; 500 rows × 14 columns stays far below it. A batch of up to
# 500 events (the python client's default upload size is 100) is one statement.
INSERT_BATCH_SIZE = 500
_COLUMNS = ("workspace_id", "message_id", "type", "name", "user_id", "anonymous_id", "previous_id", "group_id",
            "timestamp", "received_at", "properties", "traits", "context", "processing_error")


def events_accept(*, workspace_id: int, events: Sequence[EventRow]) -> None:
    """Insert ``events`` (all of one workspace) and enqueue one processing job after commit.

    Idempotent on ``(workspace, message_id)``: rows whose message id is already stored are skipped by the database
    (``INSERT … ON CONFLICT DO NOTHING``), so a client retrying a batch after a timeout stores nothing twice.
    """
    if not events:
        return
    with transaction.atomic():
        for start in range(0, len(events), INSERT_BATCH_SIZE):
            _insert(events[start:start + INSERT_BATCH_SIZE])
        enqueue_on_commit(events_process_task, workspace_id=workspace_id)


def _insert(rows: Sequence[EventRow]) -> None:
    """One multi-row ``INSERT … ON CONFLICT DO NOTHING`` per call.

    Hand-written rather than ``bulk_create(ignore_conflicts=True)``: on PostgreSQL Django 5.2 sends a bulk insert
    as ``UNNEST`` of arrays, which psycopg's client-side binding quotes element by element in Python, and a plain
    multi-row VALUES list costs psycopg a Python scan of 1,400 placeholders; both were measured at more than the
    rest of the request (bench/ingest_batch.py). On PostgreSQL the rows therefore travel as one JSON parameter that
    the server expands with ``jsonb_array_elements`` (in array order, so ids follow arrival order); SQLite binds a
    VALUES list natively.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in _COLUMNS)
    conflict = "ON CONFLICT (workspace_id, message_id) DO NOTHING"
    if connection.vendor == "postgresql":
        payload = json.dumps([
            [row.workspace_id, row.message_id, row.type, row.name, row.user_id, row.anonymous_id, row.previous_id,
             row.group_id, row.timestamp.isoformat(), row.received_at.isoformat(), row.properties, row.traits,
             row.context]
            for row in rows
        ])
        sql = (f"INSERT INTO {table} ({columns}) "
               f"SELECT (r->>0)::bigint, r->>1, r->>2, r->>3, r->>4, r->>5, r->>6, r->>7, (r->>8)::timestamptz, "
               f"(r->>9)::timestamptz, r->10, r->11, r->12, '' "
               f"FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(r, n) ORDER BY n {conflict}")
        params: list[Any] = [payload]
    else:
        adapt = connection.ops.adapt_datetimefield_value
        placeholder = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
        sql = f"INSERT INTO {table} ({columns}) VALUES {', '.join([placeholder] * len(rows))} {conflict}"
        params = []
        for row in rows:
            params += [row.workspace_id, row.message_id, row.type, row.name, row.user_id, row.anonymous_id,
                       row.previous_id, row.group_id, adapt(row.timestamp), adapt(row.received_at),
                       json.dumps(row.properties), json.dumps(row.traits), json.dumps(row.context), ""]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
