"""segment_count: ms to count a 3-condition segment of 1,000,000 contacts through Kith's segment model, against the
equivalent hand-written SQL count, PostgreSQL (SPEC §3.4, §5; BENCH.md).

Builds a fresh PostgreSQL database (dropped and created; ``--database-url``, default
``postgres://postgres@127.0.0.1:5432/kith_bench_segments``), migrates it — so every index Kith's migrations create
is there for both sides — and COPYs in one workspace of 1,000,000 contacts: lifecycle stage (a fifth customers), a
``plan`` single-choice custom attribute (a third "pro"), a tenth tagged ``vip``, a tenth tagged something else. The
segment, saved as a ``Segment`` row::

    {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"},
             {"attr": "plan", "op": "eq", "value": "pro"},
             {"tag": "vip"}]}

Kith's side is what the live count does (``kith.segments.selectors``): load the segment, compile its definition
(reads the custom field definitions), and ``count()`` the workspace's contacts filtered by the compiled ``Q`` — one
SQL statement. The baseline is the count a person would write by hand for the same question, with the tag's id
looked up first (not timed)::

    SELECT count(*) FROM contacts_contact c
     WHERE c.workspace_id = %s AND c.lifecycle_stage = 'customer' AND c.attributes @> '{"plan": "pro"}'
       AND EXISTS (SELECT 1 FROM contacts_contacttag ct WHERE ct.contact_id = c.id AND ct.tag_id = %s)

Both run alternately on the same connection, ``--repeats`` times per run after a warm-up; a run's figure is the
median of its timings, and the reported figure is the median over ``--runs`` runs of Kith ms ÷ baseline ms. Both
counts must agree. The plans (EXPLAIN) of both statements are saved in the result.

    .venv/bin/python bench/segment_count.py [--contacts 1000000] [--runs 3] [--repeats 15]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
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
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kith_bench_segments"
DEFINITION = {"all": [{"field": "lifecycle_stage", "op": "eq", "value": "customer"},
                      {"attr": "plan", "op": "eq", "value": "pro"},
                      {"tag": "vip"}]}
BASELINE = """
SELECT count(*) FROM contacts_contact c
 WHERE c.workspace_id = %(ws)s AND c.lifecycle_stage = 'customer' AND c.attributes @> %(attrs)s::jsonb
   AND EXISTS (SELECT 1 FROM contacts_contacttag ct WHERE ct.contact_id = c.id AND ct.tag_id = %(tag)s)
"""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
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
os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-bench-segments-"))
os.environ.setdefault("KITH_LOG_LEVEL", "WARNING")
os.environ["KITH_JOBS_RUNNER"] = "immediate"

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from kith.accounts.models import Membership, Role, User, Workspace
from kith.contacts.models import Contact, CustomFieldDefinition, Tag
from kith.segments import selectors
from kith.segments.models import Segment

PLANS = ("free", "pro", "enterprise")
STAGES = ("lead", "lead", "customer", "opportunity", "subscriber")


def seed(count: int) -> tuple[Workspace, Segment, int]:
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    owner = User.objects.create_user(email="owner@bench.test", password="x", full_name="Owner")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    CustomFieldDefinition.objects.create(workspace=workspace, object_type="contact", key="plan", label="Plan",
                                         field_type="single_choice", choices=list(PLANS))
    vip = Tag.objects.create(workspace=workspace, name="VIP", name_key=Tag.key_for("VIP"))
    other = Tag.objects.create(workspace=workspace, name="Newsletter", name_key=Tag.key_for("Newsletter"))
    now = dt.datetime.now(dt.UTC).isoformat()
    columns = ("workspace_id", "created_at", "updated_at", "first_name", "last_name", "email", "phone",
               "lifecycle_stage", "lead_status", "timezone", "locale", "email_consent", "sms_consent",
               "attributes", "engagement_score", "external_id", "source")
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY contacts_contact ({', '.join(columns)}) FROM STDIN") as copy:
            for n in range(count):
                copy.write_row((workspace.pk, now, now, f"First{n}", f"Last{n}", f"person{n}@bench.test", "",
                                STAGES[(n // 10) % 5], "new", "", "", "unknown", "unknown",
                                json.dumps({"plan": PLANS[n % 3 if n % 7 else (n + 1) % 3]}), n % 100,
                                f"ext-{n}", "bench"))
        cursor.execute("SELECT id FROM contacts_contact WHERE workspace_id = %s ORDER BY id", [workspace.pk])
        ids = [row[0] for row in cursor.fetchall()]
        with raw.copy("COPY contacts_contacttag (contact_id, tag_id, created_at, updated_at) FROM STDIN") as copy:
            for n, contact_id in enumerate(ids):
                if n % 10 == 3:
                    copy.write_row((contact_id, vip.pk, now, now))
                elif n % 10 == 6:
                    copy.write_row((contact_id, other.pk, now, now))
        cursor.execute("VACUUM ANALYZE")
    segment = Segment.objects.create(workspace=workspace, name="Pro customers, VIP", definition=DEFINITION)
    return workspace, segment, vip.pk


def kith_count(workspace: Workspace, segment_id: int) -> int:
    """The live count as the segment pages and API do it: load, compile, one COUNT."""
    segment = selectors.segment_get(workspace=workspace, segment_id=segment_id)
    condition = selectors.segment_condition(workspace=workspace, definition=segment.definition,
                                            segment_id=segment.pk)
    return Contact.objects.for_workspace(workspace).filter(condition).count()


def baseline_count(workspace: Workspace, tag_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.cursor.execute(BASELINE, {"ws": workspace.pk, "attrs": json.dumps({"plan": "pro"}), "tag": tag_id})
        return cursor.cursor.fetchone()[0]


def _timed(fn, *args) -> tuple[float, int]:
    start = time.perf_counter()
    result = fn(*args)
    return (time.perf_counter() - start) * 1000, result


def explain(workspace: Workspace, segment: Segment, tag_id: int) -> tuple[str, str]:
    condition = selectors.segment_condition(workspace=workspace, definition=segment.definition, segment_id=segment.pk)
    queryset = Contact.objects.for_workspace(workspace).filter(condition)
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT count(*) FROM ({sql}) AS s", params)
        kith = "\n".join(row[0] for row in cursor.fetchall())
        cursor.cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + BASELINE,
                              {"ws": workspace.pk, "attrs": json.dumps({"plan": "pro"}), "tag": tag_id})
        base = "\n".join(row[0] for row in cursor.cursor.fetchall())
    return kith, base


def main() -> None:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    workspace, segment, tag_id = seed(ARGS.contacts)
    seeded = time.perf_counter() - started
    expected = baseline_count(workspace, tag_id)
    assert kith_count(workspace, segment.pk) == expected, "Kith and the baseline disagree"
    for _ in range(3):  # warm-up: caches, plans
        kith_count(workspace, segment.pk)
        baseline_count(workspace, tag_id)
    kith_runs, base_runs, ratios = [], [], []
    for _ in range(ARGS.runs):
        kith_ms, base_ms = [], []
        for _ in range(ARGS.repeats):
            ms, n = _timed(kith_count, workspace, segment.pk)
            assert n == expected
            kith_ms.append(ms)
            ms, n = _timed(baseline_count, workspace, tag_id)
            assert n == expected
            base_ms.append(ms)
        kith_runs.append(statistics.median(kith_ms))
        base_runs.append(statistics.median(base_ms))
        ratios.append(kith_runs[-1] / base_runs[-1])
    kith_plan, base_plan = explain(workspace, segment, tag_id)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    result = {
        "name": "segment_count", "figure": round(statistics.median(ratios), 2), "better": "lower",
        "value": round(statistics.median(kith_runs), 1), "unit": "ms",
        "baseline_value": round(statistics.median(base_runs), 1),
        "baseline": "hand-written SQL COUNT with jsonb containment and an EXISTS on the tag id, psycopg",
        "runs": ARGS.runs, "repeats_per_run": ARGS.repeats, "contacts": ARGS.contacts, "matching": expected,
        "kith_runs_ms": [round(v, 1) for v in kith_runs], "baseline_runs_ms": [round(v, 1) for v in base_runs],
        "ratios": [round(v, 2) for v in ratios], "definition": DEFINITION, "seed_seconds": round(seeded, 1),
        "kith_plan": kith_plan, "baseline_plan": base_plan, "load_average": os.getloadavg()[0],
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
                   f"PostgreSQL {server_version}",
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "segment_count.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_plan")}, indent=2))
    print(kith_plan)
    print(base_plan)


def results_section_write(result: dict) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- segment_count -->", "<!-- /segment_count -->"
    out = io.StringIO()
    out.write(f"""{start}
## segment_count — count of a 3-condition segment at {result["contacts"]:,} contacts, Kith ÷ hand-written SQL, PostgreSQL

What: the live count of the segment `{json.dumps(result["definition"])}` ({result["matching"]:,} of
{result["contacts"]:,} contacts match) as Kith does it — load the `Segment`, compile the definition, one `COUNT` over
the compiled `Q` — against the same count written by hand (tag id looked up beforehand). Both alternate on one
connection, {result["repeats_per_run"]} times per run after a warm-up; the database was built by Kith's migrations
(every index Kith ships) and COPYed in ({result["seed_seconds"]} s).

Baseline (same run, same connection): {result["baseline"]}.

| | ms (median of {result["runs"]} runs, each the median of {result["repeats_per_run"]}) | all runs |
| --- | ---: | --- |
| Kith segment count | **{result["value"]}** | {", ".join(str(v) for v in result["kith_runs_ms"])} |
| hand-written SQL | {result["baseline_value"]} | {", ".join(str(v) for v in result["baseline_runs_ms"])} |

Figure, Kith ms ÷ baseline ms (median of the runs' ratios): **{result["figure"]}** (runs:
{", ".join(str(v) for v in result["ratios"])}). Targets: ≤ 1.5, and ≤ 150 ms absolute. The plans of both statements
are in `bench/results/segment_count.json`. Load average when the run ended: {result["load_average"]:.1f} on
{os.cpu_count()} cores.

Machine: {result["machine"]}. Date {result["date"]}, commit {result["commit"]} (plus uncommitted work).
Reproduce: `.venv/bin/python bench/segment_count.py --contacts {result["contacts"]} --runs {result["runs"]}`.
{end}
""")
    section = out.getvalue()
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
