"""wakeup: steps/s when 100,000 workflow runs waiting on the same delay all come due at once, with Celery workers.

Setup (PostgreSQL): one workspace, 100,000 contacts, a workflow ``wait 30 min → adjust score +1``, and 100,000 runs
past the wait — ``waiting`` at the score step with one ``wake_at`` that has just passed, as a delay step leaves
them. Then ``--workers`` Celery worker processes (``celery -A kith worker --pool=solo``, the real runner on a real
Redis broker) are started and one ``workflow_runs_wake`` job is rung, as the 15-second sweep would. Kith claims due
runs in batches (``FOR UPDATE SKIP LOCKED``), each full batch rings the next wake job so the workers fan out, and a
batch executes its steps in one transaction. Figure = runs stepped (one ``RunStep`` each, run completed) ÷ seconds
from the ring until the last run completed.

Baseline, same run and database, the same 100,000 rows reset to waiting: hand-written SQL doing the minimal work of
the same step — per batch of the same size and transaction, claim with the same ``SKIP LOCKED`` statement, add the
score to the contacts, insert the step rows and complete the runs (4 statements) — from as many processes (psycopg,
one connection each) as there are workers. No Django, no broker, no step executor.

    .venv/bin/python bench/wakeup.py [--runs-count 100000] [--workers 3] [--runs 3]
        [--database-url postgres://postgres@127.0.0.1:5432/kith_bench_wakeup]
        [--broker-url redis://127.0.0.1:6379/7]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kith_bench_wakeup"
DEFAULT_BROKER = "redis://127.0.0.1:6379/7"
DATA_DIR = "/tmp/kith-bench-wakeup"


def _setup_django(database_url: str, broker_url: str) -> None:
    sys.path.insert(0, str(SERVER / "src"))
    os.environ.update(DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url, KITH_JOBS_RUNNER="celery",
                      KITH_DATA_DIR=DATA_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
    Path(DATA_DIR).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def _database_create(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _fixture(count: int):
    """The workspace, workflow and ``count`` contacts with one run each (created once per database)."""
    from kith.accounts.models import Membership, Role, User, Workspace
    from kith.contacts.models import Contact
    from kith.workflows.models import Run, RunState, Workflow
    from kith.workflows.services import workflow_create

    workspace = Workspace.objects.filter(slug=f"bench-wakeup-{count}").first()
    if workspace is not None:
        return workspace, Workflow.objects.get(workspace=workspace)
    workspace = Workspace.objects.create(name="Bench wake-up", slug=f"bench-wakeup-{count}")
    owner = User.objects.create_user(email=f"owner-{workspace.slug}@bench.test", password="x")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    workflow = workflow_create(workspace=workspace, actor=owner, data={"name": "Wake", "definition": {"steps": [
        {"id": "wait", "kind": "wait", "duration": {"minutes": 30}, "next": "score"},
        {"id": "score", "kind": "adjust_score", "delta": 1}]}})
    now = dt.datetime.now(dt.UTC)
    for start in range(0, count, 5000):
        contacts = Contact.objects.bulk_create([
            Contact(workspace=workspace, email=f"c{n}@bench.test") for n in range(start, min(count, start + 5000))])
        Run.objects.bulk_create([
            Run(workspace=workspace, workflow=workflow, version=workflow.current_version, contact=contact,
                state=RunState.COMPLETED, current_step="score", seq=1, trigger_key=f"bench:{contact.pk}",
                started_at=now) for contact in contacts])
    return workspace, workflow


def _reset(workflow_id: int) -> None:
    """Every run back to 'waiting at the score step, due a moment ago'; scores and step rows cleared (set-based)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM workflows_runstep WHERE run_id IN (SELECT id FROM workflows_run WHERE "
                       "workflow_id = %s)", [workflow_id])
        cursor.execute("UPDATE workflows_run SET state = 'waiting', current_step = 'score', seq = 1, attempts = 0, "
                       "wake_at = now() - interval '1 second', lease_until = NULL, finished_at = NULL, "
                       "lease_token = 0 WHERE workflow_id = %s", [workflow_id])
        cursor.execute("UPDATE contacts_contact SET engagement_score = 0 WHERE id IN (SELECT contact_id FROM "
                       "workflows_run WHERE workflow_id = %s)", [workflow_id])
        cursor.execute("DELETE FROM core_job")


def _vacuum(database_url: str) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        for table in ("workflows_run", "workflows_runstep", "contacts_contact", "core_job"):
            conn.execute(f"VACUUM ANALYZE {table}")


def _wait_done(workflow_id: int, count: int, timeout: float) -> float:
    """Seconds until no run of the workflow is waiting or running any more (polled every 0.1 s with an EXISTS on the
    (workflow, state) index: cheap, so the poll does not take CPU from the workers it measures)."""
    from kith.workflows.models import OPEN_STATES, Run

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if not Run.objects.filter(workflow_id=workflow_id, state__in=OPEN_STATES).exists():
            return time.perf_counter() - start
        time.sleep(0.1)
    raise SystemExit(f"runs did not complete within {timeout} s")


def _workers_start(n: int, database_url: str, broker_url: str, logs: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, "KITH_JOBS_RUNNER": "celery",
           "DJANGO_SETTINGS_MODULE": "kith.settings", "PYTHONPATH": str(SERVER / "src"), "KITH_DATA_DIR": DATA_DIR,
           "KITH_LOG_LEVEL": "WARNING"}
    procs = []
    for i in range(n):
        log = (logs / f"worker-{i}.log").open("wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "kith", "worker", "--pool=solo", "-Q", "kith", "--loglevel=warning",
             "--without-gossip", "--without-mingle", "--without-heartbeat",
             "--hostname", f"bench-wakeup-{i}-{uuid.uuid4().hex[:6]}@%h"],
            cwd=SERVER, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def _workers_ready(broker_url: str, n: int) -> None:
    from kith.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if len(replies) >= n:
            return
    raise SystemExit("Celery workers did not start")


def _workers_stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _kith_run(workspace_id: int, workflow_id: int, count: int) -> float:
    from django.db import transaction
    from kith.core.jobs import enqueue_on_commit
    from kith.workflows.runner import workflow_runs_wake

    start = time.perf_counter()
    with transaction.atomic():
        enqueue_on_commit(workflow_runs_wake, workspace_id=workspace_id)
    elapsed = _wait_done(workflow_id, count, timeout=1800)
    assert time.perf_counter() - start >= elapsed
    return count / elapsed


def _baseline(database_url: str, workspace_id: int, workflow_id: int, count: int, processes: int, batch: int) -> float:
    # Spawned, not forked: this process holds the broker client's threads and locks, which a fork would copy
    # mid-use (the child then hangs before it connects).
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_baseline_worker, args=(database_url, workspace_id, batch))
             for _ in range(processes)]
    start = time.perf_counter()
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - start
    import psycopg

    with psycopg.connect(database_url) as conn:
        done = conn.execute("SELECT count(*) FROM workflows_run WHERE workflow_id = %s AND state = 'completed'",
                            [workflow_id]).fetchone()[0]
    if done != count:
        raise SystemExit(f"baseline completed {done} of {count} runs")
    return count / elapsed


def _baseline_worker(database_url: str, workspace_id: int, batch: int) -> None:
    """The minimal SQL of the same wake-up: claim a batch, apply the step, record it, complete the runs."""
    import psycopg

    claim = ("WITH picked AS MATERIALIZED (SELECT id FROM workflows_run WHERE state = 'waiting' AND wake_at <= now() "
             "AND workspace_id = %s ORDER BY wake_at LIMIT %s FOR UPDATE SKIP LOCKED) "
             "UPDATE workflows_run r SET state = 'running', lease_until = now() + interval '5 minutes', "
             "lease_token = r.lease_token + 1 FROM picked WHERE r.id = picked.id RETURNING r.id, r.contact_id")
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(claim, [workspace_id, batch]).fetchall()
            if not rows:
                return
            run_ids, contact_ids = [r[0] for r in rows], [r[1] for r in rows]
            with conn.transaction():
                conn.execute("SELECT id FROM workflows_run WHERE id = ANY(%s) FOR UPDATE", [run_ids])
                conn.execute("UPDATE contacts_contact SET engagement_score = engagement_score + 1 WHERE id = ANY(%s)",
                             [contact_ids])
                conn.execute("INSERT INTO workflows_runstep (run_id, step_id, seq, kind, state, attempts, result, "
                             "executed_at) SELECT unnest(%s::bigint[]), 'score', 1, 'adjust_score', 'done', 1, "
                             "'{\"delta\": 1}'::jsonb, now()", [run_ids])
                conn.execute("UPDATE workflows_run SET state = 'completed', current_step = '', seq = 2, "
                             "finished_at = now(), wake_at = NULL, lease_until = NULL, updated_at = now() "
                             "WHERE id = ANY(%s)", [run_ids])


def _verify(workflow_id: int, count: int) -> None:
    """Every run stepped exactly once: one step row per run, each contact's score is 1."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT run_id) FROM workflows_runstep s JOIN workflows_run r ON "
                       "r.id = s.run_id WHERE r.workflow_id = %s", [workflow_id])
        rows, distinct = cursor.fetchone()
        cursor.execute("SELECT min(c.engagement_score), max(c.engagement_score) FROM contacts_contact c JOIN "
                       "workflows_run r ON r.contact_id = c.id WHERE r.workflow_id = %s", [workflow_id])
        low, high = cursor.fetchone()
    if not (rows == distinct == count and low == high == 1):
        raise SystemExit(f"not exactly once: {rows} step rows for {distinct} runs, scores {low}..{high}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs-count", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--broker-url", default=os.environ.get("BENCH_BROKER_URL", DEFAULT_BROKER))
    parser.add_argument("--no-record", action="store_true", help="print the figures, write no result files")
    args = parser.parse_args()
    _database_create(args.database_url)
    _setup_django(args.database_url, args.broker_url)

    import redis
    from django.core.management import call_command
    from django.db import connection
    from kith.workflows.runner import DUE_BATCH

    call_command("migrate", verbosity=0)
    workspace, workflow = _fixture(args.runs_count)
    logs = Path(DATA_DIR) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    redis.Redis.from_url(args.broker_url).flushdb()
    workers = _workers_start(args.workers, args.database_url, args.broker_url, logs)
    kith_runs, base_runs = [], []
    try:
        _workers_ready(args.broker_url, args.workers)
        for run in range(args.runs):
            _reset(workflow.pk)
            _vacuum(args.database_url)
            kith = _kith_run(workspace.pk, workflow.pk, args.runs_count)
            _verify(workflow.pk, args.runs_count)
            _reset(workflow.pk)
            _vacuum(args.database_url)
            base = _baseline(args.database_url, workspace.pk, workflow.pk, args.runs_count, args.workers, DUE_BATCH)
            _verify(workflow.pk, args.runs_count)
            print(json.dumps({"run": run + 1, "kith_steps_per_s": round(kith), "baseline_steps_per_s": round(base)}),
                  flush=True)
            kith_runs.append(kith)
            base_runs.append(base)
    finally:
        _workers_stop(workers)

    value, base_value = statistics.median(kith_runs), statistics.median(base_runs)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    result = {
        "name": "wakeup", "figure": round(value), "better": "higher", "value": round(value), "unit": "steps/s",
        "baseline_value": round(base_value),
        "baseline": (f"hand-written SQL of the same step (SKIP LOCKED claim, score UPDATE, step INSERT, run UPDATE) "
                     f"in batches of {DUE_BATCH}, {args.workers} psycopg processes"),
        "ratio": round(value / base_value, 2), "runs": args.runs, "runs_count": args.runs_count,
        "workers": args.workers, "batch": DUE_BATCH,
        "machine": f"{os.cpu_count()} cores, PostgreSQL {pg_version}, Python {platform.python_version()}, Redis broker",
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    print(json.dumps({**result, "kith_runs": kith_runs, "base_runs": base_runs}, indent=2))
    if args.no_record:
        return
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "wakeup.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result, kith_runs=kith_runs, base_runs=base_runs)


def results_section_write(result: dict[str, object], *, kith_runs: list[float], base_runs: list[float]) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- wakeup -->", "<!-- /wakeup -->"
    section = f"""{start}
## wakeup — steps/s when {result["runs_count"]:,} runs waiting on the same delay come due at once, Celery workers

What: PostgreSQL; {result["runs_count"]:,} contacts each with a run of `wait 30 min → adjust score`, all waiting at
the score step with one `wake_at` just passed. {result["workers"]} Celery worker processes (`--pool=solo`, Redis
broker); one `workflow_runs_wake` job is rung, as the 15 s sweep does. Kith claims due runs {result["batch"]} at a
time with `FOR UPDATE SKIP LOCKED` (disjoint between workers), each full batch rings the next wake job before
working (fan-out), and a batch executes one step per run in one transaction. Figure = runs stepped (one `RunStep`
each, run completed, verified exactly once) ÷ seconds from the ring to the last completion.

Baseline (same run, same rows reset): {result["baseline"]} — no Django, no broker, no step executor.

| | steps/s (median of {result["runs"]} run(s)) | all runs |
| --- | ---: | --- |
| Kith, Celery workers | **{result["value"]:,}** | {", ".join(f"{r:,.0f}" for r in kith_runs)} |
| hand-written SQL | {result["baseline_value"]:,} | {", ".join(f"{r:,.0f}" for r in base_runs)} |

Ratio Kith ÷ baseline: **{result["ratio"]}**. Target: ≥ 2,000 steps/s. The workers, PostgreSQL and Redis share the
same 2 cores.

Machine: {result["machine"]}. Date {result["date"]}, commit {result["commit"]}.
Reproduce: `flock /tmp/kith-bench.lock .venv/bin/python bench/wakeup.py --workers {result["workers"]} --runs {result["runs"]}`.
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
