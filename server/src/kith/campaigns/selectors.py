"""Reads of campaigns: lists, live progress, and the report (numbers, rates, links, chart, recipients).

Every figure is computed from the ledger and the tracking facts with a handful of GROUP BY queries over the
campaign's rows (the ledger's unique ``(source_type, source_id, contact)`` index serves ``source_id = …``), so a
report is always current and never a second copy of the truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour

from kith.accounts.models import Workspace
from kith.campaigns.audience import ledger
from kith.campaigns.models import Campaign, CampaignStatus
from kith.core import clock
from kith.core.errors import NotFound
from kith.core.exports import ExportColumn
from kith.messaging.models import Message, MessageStatus
from kith.messaging.preparation import version_links
from kith.timeline.models import Activity, ActivityKind
from kith.tracking.models import LinkClicks, MessageEngagement
from kith.tracking.selectors import engagement_stats

# A message counts as sent once the provider accepted it, whatever happened after.
SENT_STATES = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.COMPLAINED)
RATE_WINDOW = dt.timedelta(minutes=1)


def campaign_list(*, workspace: Workspace, status: str = "") -> QuerySet[Campaign]:
    queryset = Campaign.objects.for_workspace(workspace).select_related("template").order_by("-id")
    return queryset.filter(status=status) if status else queryset


def campaign_get(*, workspace: Workspace, campaign_id: int) -> Campaign:
    found = Campaign.objects.for_workspace(workspace).select_related("template", "topic").filter(
        pk=campaign_id).first()
    if found is None:
        raise NotFound("No such campaign.")
    return found


def status_counts(campaign: Campaign) -> dict[str, int]:
    return dict(ledger(campaign).order_by().values_list("status").annotate(n=Count("pk")).values_list("status", "n"))


@dataclass(frozen=True)
class Progress:
    total: int
    sent: int
    failed: int
    suppressed: int
    remaining: int
    per_minute: int
    eta_seconds: int | None
    percent: int
    waiting_for_ab: bool


def campaign_progress(*, campaign: Campaign) -> Progress:
    """What the live progress bar shows: two queries (counts by status, and sends in the last minute)."""
    counts = status_counts(campaign)
    sent = sum(counts.get(state, 0) for state in SENT_STATES)
    failed = counts.get(MessageStatus.FAILED, 0)
    suppressed = counts.get(MessageStatus.SUPPRESSED, 0)
    remaining = sum(counts.get(state, 0) for state in (MessageStatus.QUEUED, MessageStatus.SENDING,
                                                        MessageStatus.DEFERRED))
    if campaign.ab_enabled and campaign.ab_winner_id is None and campaign.status == CampaignStatus.SENDING:
        remaining = max(remaining, campaign.audience_count - sent - failed)
    total = sent + failed + remaining
    per_minute = ledger(campaign).filter(sent_at__gte=clock.now() - RATE_WINDOW).count() \
        if campaign.status == CampaignStatus.SENDING else 0
    eta = round(remaining / per_minute * 60) if per_minute and remaining else None
    return Progress(total=total, sent=sent, failed=failed, suppressed=suppressed, remaining=remaining,
                    per_minute=per_minute, eta_seconds=eta, percent=round(100 * (sent + failed) / total) if total else 0,
                    waiting_for_ab=campaign.ab_enabled and campaign.ab_winner_id is None
                    and campaign.status == CampaignStatus.SENDING)


@dataclass(frozen=True)
class LinkRow:
    index: int
    url: str
    clicks: int
    unique_clicks: int


@dataclass(frozen=True)
class ChartPoint:
    hour: dt.datetime
    sent: int
    opened: int
    clicked: int


@dataclass
class Report:
    recipients: int
    sent: int
    delivered: int
    opened: int
    clicked: int
    bounced: int
    unsubscribed: int
    complained: int
    failed: int
    suppressed: int
    machine_opens: int
    by_status: dict[str, int]
    links: list[LinkRow] = field(default_factory=list)
    chart: list[ChartPoint] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)

    def rate(self, value: int) -> float:
        """A share of the sent messages, in percent (one decimal)."""
        return round(100 * value / self.sent, 1) if self.sent else 0.0

    @property
    def rates(self) -> dict[str, float]:
        return {name: self.rate(getattr(self, name)) for name in
                ("delivered", "opened", "clicked", "bounced", "unsubscribed", "complained")}


def campaign_report(*, campaign: Campaign) -> Report:
    """The campaign's numbers. Opens and clicks are unique per message and exclude machines (privacy proxies, link
    scanners: see ``kith.tracking``); rates are shares of the messages sent."""
    rows = ledger(campaign)
    counts = status_counts(campaign)
    engagement = engagement_stats(messages=rows)
    delivered = rows.filter(Q(delivered_at__isnull=False) | Q(status=MessageStatus.DELIVERED)).count()
    unsubscribed = Activity.objects.filter(
        workspace=campaign.workspace, kind=ActivityKind.UNSUBSCRIBED, data__source_type="campaign",
        contact_id__in=rows.filter(status__in=SENT_STATES).values("contact_id"),
        occurred_at__gte=campaign.started_at or clock.now()).values("contact_id").distinct().count()
    report = Report(
        recipients=sum(counts.values()) - counts.get(MessageStatus.SUPPRESSED, 0),
        sent=sum(counts.get(state, 0) for state in SENT_STATES), delivered=delivered,
        opened=engagement.unique_opens, clicked=engagement.unique_clicks,
        bounced=counts.get(MessageStatus.BOUNCED, 0), unsubscribed=unsubscribed,
        complained=counts.get(MessageStatus.COMPLAINED, 0), failed=counts.get(MessageStatus.FAILED, 0),
        suppressed=counts.get(MessageStatus.SUPPRESSED, 0), machine_opens=engagement.machine_opens,
        by_status=counts,
    )
    report.links = _links(campaign, rows)
    report.chart = _chart(rows)
    report.variants = _variants(campaign)
    return report


def _links(campaign: Campaign, rows: QuerySet[Message]) -> list[LinkRow]:
    if campaign.template_version_id is None:
        return []
    version = campaign.template_version
    urls = version_links(version_id=version.pk, created_at=version.created_at)
    per_link = (LinkClicks.objects.filter(message__in=rows.filter(template_version_id=version.pk).values("pk"))
                .values("link_index").annotate(unique=Count("pk", filter=Q(clicks__gt=0)), total=Sum("clicks")))
    found = {row["link_index"]: row for row in per_link}
    # The last index is the hidden honeypot link (see messaging.preparation); it is not a link people see.
    return [LinkRow(index=i, url=url, clicks=found.get(i, {}).get("total") or 0,
                    unique_clicks=found.get(i, {}).get("unique") or 0) for i, url in enumerate(urls)]


def _chart(rows: QuerySet[Message]) -> list[ChartPoint]:
    """Sends, first human opens and first human clicks per hour."""
    sent = dict(rows.filter(sent_at__isnull=False).annotate(h=TruncHour("sent_at")).order_by()
                .values_list("h").annotate(n=Count("pk")).values_list("h", "n"))
    engaged = MessageEngagement.objects.filter(message__in=rows.values("pk"))
    opened = dict(engaged.filter(first_open_at__isnull=False).annotate(h=TruncHour("first_open_at")).order_by()
                  .values_list("h").annotate(n=Count("pk")).values_list("h", "n"))
    clicked = dict(engaged.filter(first_click_at__isnull=False).annotate(h=TruncHour("first_click_at")).order_by()
                   .values_list("h").annotate(n=Count("pk")).values_list("h", "n"))
    hours = sorted(set(sent) | set(opened) | set(clicked))
    return [ChartPoint(hour=h, sent=sent.get(h, 0), opened=opened.get(h, 0), clicked=clicked.get(h, 0))
            for h in hours]


def _variants(campaign: Campaign) -> list[dict[str, Any]]:
    if not campaign.ab_enabled:
        return []
    out = []
    for variant in campaign.variants.all():
        if variant.first_message_id is None:
            out.append({"label": variant.label, "subject": variant.subject, "sent": 0, "opened": 0, "clicked": 0,
                        "winner": False})
            continue
        sample = ledger(campaign).filter(pk__gte=variant.first_message_id, pk__lte=variant.last_message_id,
                                         status__in=SENT_STATES)
        totals = sample.aggregate(sent=Count("pk"),
                                  opened=Count("pk", filter=Q(engagement__first_open_at__isnull=False)),
                                  clicked=Count("pk", filter=Q(engagement__first_click_at__isnull=False)))
        out.append({"label": variant.label, "subject": variant.subject, **totals,
                    "winner": campaign.ab_winner_id == variant.pk})
    return out


def chart_svg_points(chart: list[ChartPoint], *, width: int = 600, height: int = 160) -> dict[str, str]:
    """SVG polyline ``points`` for each series of ``chart``, scaled to ``width``×``height`` (no chart library is
    vendored, and three lines need none)."""
    if len(chart) < 2:  # one hour is no line; the numbers above say it all
        return {}
    top = max(max(p.sent, p.opened, p.clicked) for p in chart) or 1
    step = width / max(len(chart) - 1, 1)

    def points(values: list[int]) -> str:
        return " ".join(f"{round(i * step, 1)},{round(height - v / top * (height - 10), 1)}"
                        for i, v in enumerate(values))

    return {"sent": points([p.sent for p in chart]), "opened": points([p.opened for p in chart]),
            "clicked": points([p.clicked for p in chart]), "top": str(top)}


def recipient_list(*, campaign: Campaign, status: str = "") -> QuerySet[Message]:
    rows = ledger(campaign).select_related("contact", "engagement").order_by("pk")
    return rows.filter(status=status) if status else rows


def recipient_export_columns() -> list[ExportColumn]:
    def engagement(row: Message, name: str) -> Any:
        found = getattr(row, "engagement", None)
        return getattr(found, name, None) if found is not None else None

    return [
        ExportColumn("message_id", lambda m: m.pk),
        ExportColumn("contact_id", lambda m: m.contact_id),
        ExportColumn("email", lambda m: m.to_address),
        ExportColumn("name", lambda m: m.contact.full_name),
        ExportColumn("status", lambda m: m.status),
        ExportColumn("sent_at", lambda m: m.sent_at),
        ExportColumn("delivered_at", lambda m: m.delivered_at),
        ExportColumn("first_open_at", lambda m: engagement(m, "first_open_at")),
        ExportColumn("first_click_at", lambda m: engagement(m, "first_click_at")),
        ExportColumn("error", lambda m: m.error),
    ]
