"""When a drip step is due: local calendar arithmetic in the recipient's timezone, converted to UTC with zoneinfo.

Days are counted on the recipient's local calendar, never as multiples of 24 hours, so a 09:00 step stays at 09:00
local time across a DST change (the UTC instant moves by the offset change instead).

Local times that do not exist or exist twice are resolved the way ``zoneinfo`` does with ``fold=0``:

- **Nonexistent** (the clocks jump forward, e.g. 02:30 on the last Sunday of March in Europe/Berlin): the time is
  read with the offset in force *before* the jump, which lands the same distance after the jump — 02:30 becomes
  03:30 CEST (01:30 UTC). The message goes out one gap-length later on the wall clock, never a day early or late.
- **Ambiguous** (the clocks go back, e.g. 02:30 on the last Sunday of October in Europe/Berlin happens twice): the
  first occurrence is used (02:30 CEST, 00:30 UTC), so the message is never an hour later than someone watching the
  clock would expect.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = dt.UTC


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    if not name or "\x00" in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def zone_for(*, contact_timezone: str, workspace_timezone: str) -> ZoneInfo:
    """The contact's own timezone, else the workspace's, else UTC (an unknown name counts as none)."""
    return _zone(contact_timezone) or _zone(workspace_timezone) or ZoneInfo("UTC")


def local_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """The UTC instant of wall-clock time ``at`` on ``day`` in ``zone`` (see the module docstring for the gap and
    the overlap)."""
    return dt.datetime.combine(day, at.replace(tzinfo=None), tzinfo=zone).replace(fold=0).astimezone(UTC)


def anchor_date(*, enrolled_at: dt.datetime, send_time: dt.time, zone: ZoneInfo) -> dt.date:
    """Day 0 of an enrollment: the recipient's local date of ``enrolled_at`` if ``send_time`` is still ahead on it,
    else the next local day. So day 0 is the first send slot at or after enrollment, and nothing is ever due
    before the contact enrolled."""
    day = enrolled_at.astimezone(zone).date()
    if local_to_utc(day, send_time, zone) < enrolled_at:
        day += dt.timedelta(days=1)
    return day


def step_due_at(*, anchor: dt.date, day_offset: int, send_time: dt.time, zone: ZoneInfo) -> dt.datetime:
    """When a step with ``day_offset`` is due for an enrollment anchored on ``anchor``."""
    return local_to_utc(anchor + dt.timedelta(days=day_offset), send_time, zone)
