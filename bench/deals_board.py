"""deals_board: server time of the Kanban board (``GET /deals/``) for a pipeline with 5,000 open deals, PostgreSQL.

Builds a fresh PostgreSQL database (dropped and created; ``--database-url``, default
``postgres://postgres@127.0.0.1:5432/kith_bench_deals_board``), migrates it, and bulk-inserts one workspace with
three members, the default six-stage pipeline, 1,000 contacts and 200 companies, 5,000 open deals spread over the
four open stages and 500 closed ones in Won and Lost (what a board also shows). This measures the read, not the
writes.

Then, through the real stack in process — Django's test ``Client`` calling the WSGI handler with a logged-in
session: every middleware, the selectors, the template with its cards — it times ``--requests`` sequential renders
of the board per run, plus the same number filtered by owner and expected close date. The baseline, timed in the
same runs on the same connection, is the hand-written SQL for the same columns and totals: the stages, one
``GROUP BY stage, currency`` aggregate, one window-function read of the first 50 cards per column with their owner,
contact and company — fetched, not rendered. The figure is the median over ``--runs`` runs of each run's median.
Target: ≤ 300 ms.

    .venv/bin/python bench/deals_board.py [--deals 5000] [--runs 5] [--requests 15] [--database-url URL]
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
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kith_bench_deals_board"
CLOSED_DEALS = 500
TARGET_MS = 300


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=5000, help="Open deals in the pipeline.")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=15, help="Timed renders per run (and baseline queries).")
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
os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-bench-deals-board-"))
os.environ.setdefault("KITH_LOG_LEVEL", "WARNING")

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kith.accounts.models import Membership, Role, User, Workspace
from kith.contacts.models import Company, Contact
from kith.deals.models import Deal, DealStatus, Pipeline, StageKind
from kith.deals.selectors import BOARD_CARDS_PER_COLUMN
from kith.deals.services import pipeline_create

FILTER_FROM, FILTER_TO = dt.date(2026, 1, 1), dt.date(2026, 6, 30)


def seed(open_deals: int) -> tuple[Workspace, list[User], Pipeline]:
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    users = [User.objects.create_user(email=f"rep{n}@bench.test", password="x", full_name=f"Rep {n}")
             for n in range(3)]
    for n, user in enumerate(users):
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER if n == 0 else Role.REP)
    pipeline = pipeline_create(workspace=workspace, actor=users[0], name="Sales")
    stages = list(pipeline.stages.all())
    open_stages = [s for s in stages if s.kind == StageKind.OPEN]
    closed_stages = [s for s in stages if s.kind != StageKind.OPEN]
    companies = Company.objects.bulk_create([Company(workspace=workspace, name=f"Company {n}",
                                                     domain=f"company{n}.example") for n in range(200)])
    contacts = Contact.objects.bulk_create([
        Contact(workspace=workspace, email=f"contact{n}@example.com", first_name=f"First{n}", last_name=f"Last{n}",
                company=companies[n % len(companies)], owner=users[n % 3]) for n in range(1000)], batch_size=1000)
    now = dt.datetime.now(dt.UTC)
    deals = []
    for n in range(open_deals + CLOSED_DEALS):
        closed = n >= open_deals
        stage = closed_stages[n % 2] if closed else open_stages[n % len(open_stages)]
        deals.append(Deal(
            workspace=workspace, pipeline=pipeline, stage=stage, name=f"Deal {n}", value=Decimal(1000 + n),
            currency="EUR" if n % 3 else "USD", owner=users[n % 3], contact=contacts[n % len(contacts)],
            company=companies[n % len(companies)], position=n,
            expected_close_date=dt.date(2026, 1, 1) + dt.timedelta(days=n % 365),
            status=(DealStatus.WON if stage.kind == StageKind.WON else DealStatus.LOST) if closed else DealStatus.OPEN,
            lost_reason="Budget" if closed and stage.kind == StageKind.LOST else "",
            closed_at=now if closed else None))
    Deal.objects.bulk_create(deals, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return workspace, users, pipeline


BASELINE_STAGES = "SELECT id, name, position, win_probability, kind FROM deals_stage WHERE pipeline_id = %s " \
                  "ORDER BY position, id"
_BOARD_WHERE = ("d.workspace_id = %s AND d.pipeline_id = %s AND (d.status = 'open' OR s.kind <> 'open') "
                "AND (%s::bigint IS NULL OR d.owner_id = %s) AND (%s::date IS NULL OR d.expected_close_date >= %s) "
                "AND (%s::date IS NULL OR d.expected_close_date <= %s)")
BASELINE_TOTALS = (f"SELECT d.stage_id, d.currency, count(*), sum(d.value) FROM deals_deal d "
                   f"JOIN deals_stage s ON s.id = d.stage_id WHERE {_BOARD_WHERE} GROUP BY d.stage_id, d.currency")
BASELINE_CARDS = (
    "SELECT r.id, r.name, r.value, r.currency, r.status, r.stage_id, r.position, r.expected_close_date, "
    "u.full_name, u.email, c.first_name, c.last_name, c.email, co.name "
    "FROM (SELECT d.*, row_number() OVER (PARTITION BY d.stage_id ORDER BY d.position, d.id) AS rn "
    f"      FROM deals_deal d JOIN deals_stage s ON s.id = d.stage_id WHERE {_BOARD_WHERE}) r "
    "LEFT JOIN accounts_user u ON u.id = r.owner_id LEFT JOIN contacts_contact c ON c.id = r.contact_id "
    "LEFT JOIN contacts_company co ON co.id = r.company_id "
    f"WHERE r.rn <= {BOARD_CARDS_PER_COLUMN} ORDER BY r.stage_id, r.position, r.id")


def baseline_once(workspace: Workspace, pipeline: Pipeline, owner_id: int | None, close_from: dt.date | None,
                  close_to: dt.date | None) -> tuple[float, int]:
    """One hand-written read of the board; returns the time and the number of cards."""
    params = [workspace.pk, pipeline.pk, owner_id, owner_id, close_from, close_from, close_to, close_to]
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_STAGES, [pipeline.pk])
        cursor.fetchall()
        cursor.execute(BASELINE_TOTALS, params)
        cursor.fetchall()
        cursor.execute(BASELINE_CARDS, params)
        cards = len(cursor.fetchall())
    return (time.perf_counter() - start) * 1000, cards


def time_board(client: Client, url: str, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return timings


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    workspace, users, pipeline = seed(ARGS.deals)
    seeded = time.perf_counter() - started
    client = Client()
    client.force_login(users[0])
    filtered_url = f"/deals/?owner={users[1].pk}&close_from={FILTER_FROM}&close_to={FILTER_TO}"
    first = client.get("/deals/")  # warm-up: template compilation, session, caches
    cards = first.content.count(b"data-deal-id=")
    filtered_cards = client.get(filtered_url).content.count(b"data-deal-id=")
    _, baseline_cards = baseline_once(workspace, pipeline, None, None, None)
    _, baseline_filtered_cards = baseline_once(workspace, pipeline, users[1].pk, FILTER_FROM, FILTER_TO)
    assert (cards, filtered_cards) == (baseline_cards, baseline_filtered_cards), "the baseline reads other cards"
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/deals/")
    assert response.status_code == 200, response.status_code
    # Counted now: every request start clears the connection's query log the capture reads from.
    query_count = len(queries)
    kith_runs, filtered_runs, base_runs, base_filtered_runs = [], [], [], []
    for _ in range(ARGS.runs):
        kith_runs.append(statistics.median(time_board(client, "/deals/", ARGS.requests)))
        filtered_runs.append(statistics.median(time_board(client, filtered_url, ARGS.requests)))
        base_runs.append(statistics.median(baseline_once(workspace, pipeline, None, None, None)[0]
                                           for _ in range(ARGS.requests)))
        base_filtered_runs.append(statistics.median(
            baseline_once(workspace, pipeline, users[1].pk, FILTER_FROM, FILTER_TO)[0] for _ in range(ARGS.requests)))
    figure, base = statistics.median(kith_runs), statistics.median(base_runs)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    result = {
        "name": "deals_board", "figure": round(figure, 1), "better": "lower", "value": round(figure, 1),
        "unit": "ms (server, median)", "target": TARGET_MS, "baseline_value": round(base, 2),
        "baseline": "hand-written SQL for the same columns and totals (stages, GROUP BY stage/currency aggregate, "
                    "window-function read of the first 50 cards per column with owner/contact/company), fetched",
        "ratio": round(figure / base, 1), "runs": ARGS.runs, "requests_per_run": ARGS.requests,
        "open_deals": ARGS.deals, "closed_deals": CLOSED_DEALS, "cards_rendered": cards,
        "all_runs_ms": [round(v, 1) for v in kith_runs], "baseline_runs_ms": [round(v, 2) for v in base_runs],
        "filtered_ms": round(statistics.median(filtered_runs), 1),
        "filtered_baseline_ms": round(statistics.median(base_filtered_runs), 2), "filtered_cards": filtered_cards,
        "queries": query_count, "seed_seconds": round(seeded, 1), "load_average": round(os.getloadavg()[0], 2),
        "client": "django.test.Client (in-process WSGI, full middleware stack, session login)",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
                   f"PostgreSQL {server_version}",
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "deals_board.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result)
    print(json.dumps(result, indent=2))


def results_section_write(result: dict) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- deals_board -->", "<!-- /deals_board -->"
    verdict = "within" if result["figure"] <= TARGET_MS else "over"
    section = f"""{start}
## deals_board — server time of the Kanban board at {result["open_deals"]:,} open deals, PostgreSQL

What: `GET /deals/` (the default pipeline's board) rendered through the whole server in process ({result["client"]}):
middleware, selectors, the template with {result["cards_rendered"]} cards (at most {BOARD_CARDS_PER_COLUMN} per
column; every column's count and per-currency total cover all its deals). The pipeline holds
{result["open_deals"]:,} open deals over four open stages and {result["closed_deals"]} closed ones in Won and Lost,
with owners, contacts and companies, bulk-inserted ({result["seed_seconds"]} s). {result["queries"]} SQL queries per
render. Also timed: the board filtered by owner and expected close date (`?owner=&close_from=&close_to=`,
{result["filtered_cards"]} cards).

Baseline (same runs, same connection): {result["baseline"]}.

| | ms (median of {result["runs"]} runs × {result["requests_per_run"]} requests) | all runs |
| --- | ---: | --- |
| Kith board | **{result["value"]}** | {", ".join(str(v) for v in result["all_runs_ms"])} |
| hand-written SQL | {result["baseline_value"]} | {", ".join(str(v) for v in result["baseline_runs_ms"])} |
| Kith board, filtered | {result["filtered_ms"]} | |
| hand-written SQL, filtered | {result["filtered_baseline_ms"]} | |

Ratio Kith ÷ baseline: {result["ratio"]}× (the difference is the request handling and rendering the cards; the
baseline only fetches rows). Target: ≤ {TARGET_MS} ms — {verdict} it. Load average when the run ended:
{result["load_average"]} on {os.cpu_count()} cores.

Machine: {result["machine"]}. Date {result["date"]}, commit {result["commit"]}.
Reproduce: `.venv/bin/python bench/deals_board.py --deals {result["open_deals"]} --runs {result["runs"]} --requests {result["requests_per_run"]}`.
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
