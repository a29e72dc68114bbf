"""The request-time half of tracking: one INSERT into the hits table, nothing else.

Decision: the hits go to the database in every setup, not to a Redis list when Redis is configured. One code path
works in the embedded SQLite mode too, a hit is durable the moment the pixel is answered, and the aggregation
job reads hits with SQL. A raw cursor rather than ``Hit.objects.create``: no model instance, no signals, no
RETURNING of the id — about a third of the ORM's cost on this path.
"""

from __future__ import annotations

from django.db import connection

from kith.core import clock
from kith.tracking import classify
from kith.tracking.models import Hit

MAX_USER_AGENT = Hit._meta.get_field("user_agent").max_length or 300
_COLUMNS = "(message_id, kind, link_index, occurred_at, client_kind, ip_flag, user_agent)"
_TABLE = Hit._meta.db_table
_INSERT = f"INSERT INTO {_TABLE} {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s)"
# PostgreSQL: the same INSERT, committed without waiting for the WAL flush. With the default synchronous_commit a
# one-row autocommit INSERT waits for an fsync (~3 ms on this class of disk, ten times the rest of the request);
# set_config(..., true) turns that off for this statement's own transaction only, in the same round trip. What it
# risks: if PostgreSQL itself crashes, the hits of the last few hundred milliseconds are lost (never corrupted);
# an application crash loses nothing. For opens and clicks that is the right trade; nothing else uses it.
# (SQLite runs with WAL and synchronous=NORMAL already, so its commits do not wait for a flush either.)
_INSERT_ASYNC_COMMIT = (
    f"WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) "
    f"INSERT INTO {_TABLE} {_COLUMNS} SELECT %s, %s, %s, %s, %s, %s, %s FROM async")


def hit_record(*, message_id: int, kind: int, user_agent: str, ip: str | None, link_index: int | None = None) -> None:
    """Append one hit. Runs in autocommit: the row is committed when this returns."""
    user_agent = user_agent[:MAX_USER_AGENT]
    occurred_at = connection.ops.adapt_datetimefield_value(clock.now())
    statement = _INSERT_ASYNC_COMMIT if connection.vendor == "postgresql" else _INSERT
    with connection.cursor() as cursor:
        cursor.execute(statement, [message_id, kind, link_index, occurred_at, classify.client_kind(user_agent),
                                 classify.ip_flag(ip), user_agent])
