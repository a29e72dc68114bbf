"""audience_snapshot: seconds to snapshot a 1,000,000-recipient campaign audience into the message ledger, Kith
against a raw ``INSERT … SELECT`` into a table with a unique (campaign, contact) key, PostgreSQL (SPEC §3.4; BENCH.md).

Builds a fresh database (dropped and created; ``--database-url``, default
``postgres://postgres@127.0.0.1:5432/kith_bench_campaigns``), migrates it, and COPYs in one workspace of
``--contacts`` contacts (a hundredth suppressed, a hundredth opted out of the campaign's topic). The campaign sends
to a segment matching every contact with an address, on that topic.

Kith's side is what ``kith.campaigns.starting.campaign_start`` does for the audience, in one transaction:
``audience_insert`` (one ``INSERT INTO messaging_message … SELECT … ON CONFLICT DO NOTHING`` with the suppression
and topic checks as a ``CASE``), ``batches_create`` (the keyset batches, one window query) and ``counts_refresh``.
The baseline, same run, same connection, alternating with Kith::

    INSERT INTO bench_recipient (campaign_id, contact_id, email, queued_at)
    SELECT %s, id, email, now() FROM contacts_contact WHERE workspace_id = %s AND email <> ''
    ON CONFLICT (campaign_id, contact_id) DO NOTHING

Each side's table is emptied (TRUNCATE) before each of its runs. The figure is the median over ``--runs`` of
Kith s ÷ baseline s.

    .venv/bin/python bench/audience_snapshot.py [--contacts 1000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kith_bench_campaigns"
BASELINE = """
INSERT INTO bench_recipient (campaign_id, contact_id, email, queued_at)
SELECT %(campaign)s, id, email, now() FROM contacts_contact WHERE workspace_id = %(ws)s AND email <> ''
ON CONFLICT (campaign_id, contact_id) DO NOTHING
"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("KITH_BENCH_DATABASE_URL", DEFAULT_URL))
    return parser.parse_args()


def _fresh_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


ARGS = _arguments()
_fresh_database(ARGS.database_url)
sys.path.insert(0, str(ROOT / "server" / "src"))
os.environ["DATABASE_URL"] = ARGS.database_url
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-bench-campaigns-"))
os.environ.setdefault("KITH_LOG_LEVEL", "WARNING")
os.environ["KITH_JOBS_RUNNER"] = "immediate"

import django

django.setup()

from django.core.management import call_command
from django.db import connection, transaction
from kith.accounts.models import Membership, Role, User, Workspace
from kith.campaigns import audience, services
from kith.campaigns.models import Campaign
from kith.messaging.models import Message, Template
from kith.messaging.services import template_create
from kith.preferences.models import Topic
from kith.segments.models import Segment


def seed(count: int) -> tuple[Workspace, Campaign]:
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    owner = User.objects.create_user(email="owner@bench.test", password="x", full_name="Owner")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    topic = Topic.objects.create(workspace=workspace, name="News")
    now = dt.datetime.now(dt.UTC).isoformat()
    columns = ("workspace_id", "created_at", "updated_at", "first_name", "last_name", "email", "phone",
               "lifecycle_stage", "lead_status", "timezone", "locale", "email_consent", "sms_consent",
               "attributes", "engagement_score", "external_id", "source")
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY contacts_contact ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row((workspace.pk, now, now, f"First{n}", f"Last{n}", f"person{n}@bench.test", "",
                                "lead", "new", "", "", "unknown", "unknown", "{}", 0, f"ext-{n}", "bench"))
        raw.execute("INSERT INTO messaging_suppression (workspace_id, address, reason, created_at, updated_at) "
                    "SELECT %s, email, 'unsubscribe', now(), now() FROM contacts_contact WHERE id %% 100 = 7",
                    [workspace.pk])
        raw.execute("INSERT INTO preferences_topicsubscription (workspace_id, topic_id, contact_id, subscribed, "
                    "created_at, updated_at) SELECT %s, %s, id, false, now(), now() FROM contacts_contact "
                    "WHERE id %% 100 = 42", [workspace.pk, topic.pk])
        raw.execute("CREATE TABLE bench_recipient (campaign_id bigint NOT NULL, contact_id bigint NOT NULL, "
                    "email varchar(254) NOT NULL, queued_at timestamptz NOT NULL, UNIQUE (campaign_id, contact_id))")
        cursor.execute("VACUUM ANALYZE")
    template = template_create(workspace=workspace, actor=owner, name="Bench",
                               content={"subject": "Hi", "html": "<p>Hi {{ contact.first_name }}</p>"})
    segment = Segment.objects.create(workspace=workspace, name="Everyone",
                                     definition={"field": "email", "op": "is_set"})
    campaign = services.campaign_create(workspace=workspace, actor=owner, data={
        "name": "Bench", "template": template.pk, "segments": [segment.pk], "topic": topic.pk})
    Campaign.objects.filter(pk=campaign.pk).update(template_version=Template.objects.get(pk=template.pk)
                                                   .current_version)
    campaign.refresh_from_db()
    return workspace, campaign


def kith_snapshot(campaign: Campaign) -> tuple[float, int]:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_message CASCADE")
        cursor.execute("TRUNCATE campaigns_campaignbatch")
    start = time.perf_counter()
    with transaction.atomic():
        audience.audience_insert(campaign=campaign, version_id=campaign.template_version_id)
        audience.batches_create(campaign=campaign)
        audience.counts_refresh(campaign=campaign)
    return time.perf_counter() - start, Message.objects.count()


def baseline_snapshot(workspace: Workspace, campaign: Campaign) -> tuple[float, int]:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE bench_recipient")
        start = time.perf_counter()
        with transaction.atomic():
            cursor.cursor.execute(BASELINE, {"campaign": campaign.pk, "ws": workspace.pk})
        elapsed = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bench_recipient")
        return elapsed, cursor.fetchone()[0]


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    workspace, campaign = seed(ARGS.contacts)
    seeded = time.perf_counter() - started
    kith_runs, base_runs, ratios = [], [], []
    for _ in range(ARGS.runs):
        kith_s, kith_rows = kith_snapshot(campaign)
        base_s, base_rows = baseline_snapshot(workspace, campaign)
        assert kith_rows == base_rows == ARGS.contacts, (kith_rows, base_rows)
        kith_runs.append(kith_s)
        base_runs.append(base_s)
        ratios.append(kith_s / base_s)
        print(f"kith {kith_s:.2f} s, baseline {base_s:.2f} s, ratio {kith_s / base_s:.2f}", flush=True)
    campaign.refresh_from_db()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    result = {
        "name": "audience_snapshot", "figure": round(statistics.median(ratios), 2), "better": "lower",
        "value": round(statistics.median(kith_runs), 2), "unit": "s",
        "baseline_value": round(statistics.median(base_runs), 2),
        "baseline": "INSERT … SELECT from contacts_contact into a table with UNIQUE (campaign_id, contact_id), "
                    "ON CONFLICT DO NOTHING",
        "runs": ARGS.runs, "contacts": ARGS.contacts, "queued": campaign.audience_count,
        "suppressed": campaign.suppressed_count, "batches": campaign.batches.count(),
        "kith_runs_s": [round(v, 2) for v in kith_runs], "baseline_runs_s": [round(v, 2) for v in base_runs],
        "ratios": [round(v, 2) for v in ratios], "seed_seconds": round(seeded, 1),
        "load_average": round(os.getloadavg()[0], 1),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
                   f"PostgreSQL {server_version}",
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "audience_snapshot.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result)
    print(json.dumps(result, indent=2))


def results_section_write(result: dict) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- audience_snapshot -->", "<!-- /audience_snapshot -->"
    section = f"""{start}
## audience_snapshot — campaign audience of {result["contacts"]:,} into the ledger, Kith ÷ raw INSERT…SELECT, PostgreSQL

What: the snapshot `campaign_start` takes when sending starts — one `INSERT INTO messaging_message … SELECT … ON
CONFLICT DO NOTHING` over the segment's compiled query (suppressed and topic-unsubscribed recipients recorded as
`suppressed`: {result["suppressed"]:,} here), the keyset batches ({result["batches"]:,}) and the audience counts — in
one transaction, against a raw `INSERT … SELECT` of the same contacts into a table with a unique (campaign, contact)
key. Alternating, same connection, each table truncated before its run.

| | seconds (median of {result["runs"]} runs) | all runs |
| --- | ---: | --- |
| Kith snapshot | **{result["value"]}** | {", ".join(str(v) for v in result["kith_runs_s"])} |
| raw INSERT … SELECT | {result["baseline_value"]} | {", ".join(str(v) for v in result["baseline_runs_s"])} |

Figure, Kith s ÷ baseline s (median of the runs' ratios): **{result["figure"]}** (runs:
{", ".join(str(v) for v in result["ratios"])}). Target ≤ 2. Load average when the run ended:
{result["load_average"]} on {os.cpu_count()} cores (the machine is shared).

Machine: {result["machine"]}. Date {result["date"]}, commit {result["commit"]} (plus uncommitted work).
Reproduce: `.venv/bin/python bench/audience_snapshot.py --contacts {result["contacts"]} --runs {result["runs"]}`.
{end}
"""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
