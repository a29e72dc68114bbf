"""Reads for the dashboard's CRM overview: contacts, the default pipeline by stage, recent e-mail and the member's tasks.

Every figure is one aggregate query over what the member may see (the same permission-checked selectors as the list
pages), so a restricted rep's dashboard counts only their own records. Charts are drawn server-side as SVG bars from
the numbers here: no chart library to vendor, and the numbers are also in the markup for screen readers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate

from kith.accounts.models import Membership, Workspace
from kith.contacts.models import LifecycleStage
from kith.contacts.selectors import contact_list
from kith.core import clock
from kith.deals.models import DealStatus, StageKind
from kith.deals.selectors import deal_list, pipeline_default
from kith.messaging.models import Channel, MessageStatus
from kith.messaging.selectors import message_list
from kith.tasks.models import TaskStatus
from kith.tasks.selectors import day_bounds, task_list

# How far back "new contacts", win rates and the message chart look.
NEW_CONTACT_DAYS = 30
CLOSED_DEAL_DAYS = 90
MESSAGE_DAYS = 14
# Ledger statuses that mean the message left Kith (what "sent" counts on the dashboard). Opens are human opens only
# (tracking keeps machine opens apart), as in campaign reports.
_LEFT_KITH = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED,
              MessageStatus.DEFERRED)


@dataclass(frozen=True)
class StageBar:
    name: str
    count: int
    values: str  # "12,000 USD + 3,000 EUR": deals keep their own currency, so sums are per currency
    percent: int  # bar width relative to the fullest stage


@dataclass(frozen=True)
class LifecycleBar:
    label: str
    count: int
    percent: int


@dataclass(frozen=True)
class DealHealth:
    """The default pipeline's forecast and how its deals closed over the last CLOSED_DEAL_DAYS."""

    forecast: str  # open value × stage win probability, per currency
    won: int
    lost: int
    cycle_days: int | None  # average days from creation to won

    @property
    def win_rate(self) -> int | None:
        closed = self.won + self.lost
        return round(100 * self.won / closed) if closed else None


@dataclass(frozen=True)
class DayBar:
    day: dt.date
    sent: int
    opened: int
    sent_percent: int
    opened_percent: int


@dataclass(frozen=True)
class Overview:
    contacts: int
    new_contacts: int
    open_deals: int
    won_deals_30d: int
    lifecycle: list[LifecycleBar]
    pipeline_name: str
    stages: list[StageBar]
    health: DealHealth | None
    messages_sent: int
    messages_opened: int
    days: list[DayBar]
    tasks_overdue: int
    tasks_today: int

    @property
    def open_rate(self) -> int:
        return round(100 * self.messages_opened / self.messages_sent) if self.messages_sent else 0

    @property
    def has_messages(self) -> bool:
        return self.messages_sent > 0


def _money(sums: dict[str, Decimal]) -> str:
    return " + ".join(f"{value:,.0f} {currency}" for currency, value in sorted(sums.items())) or "—"


def _lifecycle_bars(*, workspace: Workspace, membership: Membership) -> list[LifecycleBar]:
    counts = dict(contact_list(workspace=workspace, membership=membership).order_by()
                  .values_list("lifecycle_stage").annotate(n=Count("id")))
    most = max(counts.values(), default=0)
    return [LifecycleBar(label=label, count=counts.get(value, 0),
                         percent=round(100 * counts.get(value, 0) / most) if most else 0)
            for value, label in LifecycleStage.choices]


def _stage_bars(*, workspace: Workspace, membership: Membership) -> tuple[str, list[StageBar], DealHealth | None]:
    pipeline = pipeline_default(workspace=workspace)
    if pipeline is None:
        return "", [], None
    stages = list(pipeline.stages.filter(kind=StageKind.OPEN).order_by("position", "id"))
    counts: dict[int, int] = {}
    sums: dict[int, dict[str, Decimal]] = {}
    rows = (deal_list(workspace=workspace, membership=membership)
            .filter(pipeline=pipeline, status=DealStatus.OPEN)
            .order_by().values("stage_id", "currency").annotate(n=Count("id"), total=Sum("value")))
    for row in rows:
        counts[row["stage_id"]] = counts.get(row["stage_id"], 0) + row["n"]
        sums.setdefault(row["stage_id"], {})[row["currency"]] = row["total"] or Decimal(0)
    most = max(counts.values(), default=0)
    bars = [
        StageBar(name=stage.name, count=counts.get(stage.pk, 0), values=_money(sums.get(stage.pk, {})),
                 percent=round(100 * counts.get(stage.pk, 0) / most) if most else 0)
        for stage in stages
    ]
    forecast: dict[str, Decimal] = {}
    for stage in stages:
        for currency, value in sums.get(stage.pk, {}).items():
            forecast[currency] = forecast.get(currency, Decimal(0)) + value * stage.win_probability / 100
    closed = (deal_list(workspace=workspace, membership=membership)
              .filter(pipeline=pipeline, closed_at__gte=clock.now() - dt.timedelta(days=CLOSED_DEAL_DAYS))
              .order_by().aggregate(
                  won=Count("id", filter=Q(status=DealStatus.WON)), lost=Count("id", filter=Q(status=DealStatus.LOST)),
                  cycle=Avg(ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()),
                            filter=Q(status=DealStatus.WON))))
    cycle = closed["cycle"]
    health = DealHealth(forecast=_money(forecast), won=closed["won"], lost=closed["lost"],
                        cycle_days=round(cycle.total_seconds() / 86400) if cycle is not None else None)
    return pipeline.name, bars, health


def _day_bars(*, workspace: Workspace, membership: Membership,
              today_start: dt.datetime) -> tuple[int, int, list[DayBar]]:
    # Days are the workspace's calendar days, as the people reading the chart count them.
    today, zone = today_start.date(), today_start.tzinfo
    since = today_start - dt.timedelta(days=MESSAGE_DAYS - 1)
    rows = (message_list(workspace=workspace, membership=membership)
            .filter(channel=Channel.EMAIL, sent_at__gte=since, status__in=_LEFT_KITH)
            .order_by().annotate(day=TruncDate("sent_at", tzinfo=zone))
            .values("day").annotate(sent=Count("id"), opened=Count("id", filter=Q(engagement__first_open_at__isnull=False))))
    by_day: dict[dt.date, dict[str, Any]] = {row["day"]: row for row in rows}
    days = [today - dt.timedelta(days=offset) for offset in range(MESSAGE_DAYS - 1, -1, -1)]
    most = max((row["sent"] for row in by_day.values()), default=0)
    bars = []
    for day in days:
        row = by_day.get(day, {"sent": 0, "opened": 0})
        bars.append(DayBar(day=day, sent=row["sent"], opened=row["opened"],
                           sent_percent=round(100 * row["sent"] / most) if most else 0,
                           opened_percent=round(100 * row["opened"] / most) if most else 0))
    return sum(b.sent for b in bars), sum(b.opened for b in bars), bars


def dashboard_overview(*, workspace: Workspace, membership: Membership) -> Overview:
    """The figures of the dashboard's CRM section for ``membership`` (about ten queries, none per row)."""
    now = clock.now()
    contacts = contact_list(workspace=workspace, membership=membership).order_by().aggregate(
        total=Count("id"), new=Count("id", filter=Q(created_at__gte=now - dt.timedelta(days=NEW_CONTACT_DAYS))))
    deals = deal_list(workspace=workspace, membership=membership).order_by().aggregate(
        open=Count("id", filter=Q(status=DealStatus.OPEN)),
        won=Count("id", filter=Q(status=DealStatus.WON, closed_at__gte=now - dt.timedelta(days=30))))
    pipeline_name, stages, health = _stage_bars(workspace=workspace, membership=membership)
    today_start, tomorrow_start = day_bounds(workspace=workspace, now=now)
    sent, opened, days = _day_bars(workspace=workspace, membership=membership, today_start=today_start)
    tasks = (task_list(workspace=workspace, membership=membership)
             .filter(assignee_id=membership.user_id, status=TaskStatus.OPEN).order_by()
             .aggregate(overdue=Count("id", filter=Q(due_at__lt=now)),
                        today=Count("id", filter=Q(due_at__gte=now, due_at__lt=tomorrow_start))))
    return Overview(
        contacts=contacts["total"], new_contacts=contacts["new"], open_deals=deals["open"], won_deals_30d=deals["won"],
        lifecycle=_lifecycle_bars(workspace=workspace, membership=membership),
        pipeline_name=pipeline_name, stages=stages, health=health, messages_sent=sent, messages_opened=opened, days=days,
        tasks_overdue=tasks["overdue"], tasks_today=tasks["today"],
    )
