"""ingest_batch: events/s accepted and persisted through ``POST /v1/batch`` (100 events per request), sustained.

The real server: gunicorn with ``deploy/gunicorn.conf.py`` (2 workers × 4 threads) bound to loopback, PostgreSQL,
the embedded job runner (each request leaves its processing-job row, as in production; no worker runs during the
measurement, so the figure is the accept path alone). ``--clients`` client processes (default 4) each keep one
HTTP/1.1 connection and post pre-built 100-event batches (realistic ~350-byte track events, unique messageIds,
10,000 distinct users) back to back for ``--seconds`` (default 60). Accepted = 200 answers × 100; persisted = rows
in the events table afterwards (must be equal).

Baseline, same run, same server and database: ``POST /bench/batch/<workspace>/``, a bare Django view added by the
bench-only URLconf (``bench/ingest_batch_app``) that only bulk-inserts the same JSON — parse the body, one
multi-row ``INSERT … ON CONFLICT DO NOTHING`` of its 100 events in one transaction — under the same gunicorn
(same settings, workers, threads and middleware), driven by the same clients for the same time. The ratio is what
Kith's accept path (write key, validation, skew correction, the processing job row) costs over that floor.

Afterwards, processing (contact resolution, timeline, last-seen) of ``--process-seconds`` worth of the backlog is
timed in this process and reported for information; it is not the figure.

    .venv/bin/python bench/ingest_batch.py [--seconds 60] [--clients 4] [--runs 1]
        [--database-url postgres://postgres@127.0.0.1:5432/kith_bench_ingest]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import http.client
import json
import multiprocessing
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kith_bench_ingest"
EVENTS_PER_REQUEST = 100
USERS = 10_000


def _setup_django(database_url: str) -> None:
    sys.path.insert(0, str(SERVER / "src"))
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
    os.environ.setdefault("KITH_DATA_DIR", "/tmp/kith-bench-ingest")
    os.environ["KITH_JOBS_RUNNER"] = "embedded"
    Path(os.environ["KITH_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    import django

    django.setup()


def _database_create(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _batch_template() -> tuple[bytes, bytes, bytes]:
    """The body split around the per-request part of every messageId, so a client builds a body by joining bytes."""
    now = dt.datetime.now(dt.UTC).isoformat()
    events = []
    for n in range(EVENTS_PER_REQUEST):
        events.append({
            "type": "track", "userId": "@USER@", "event": ["Product Viewed", "Added To Cart", "Purchase Completed"][n % 3],
            "messageId": f"@REQ@-{n}", "timestamp": now,
            "properties": {"sku": f"SKU-{n % 37}", "price": 19.99 + n, "currency": "EUR", "quantity": 1 + n % 3},
            "context": {"library": {"name": "analytics-python", "version": "2.4.0"}, "ip": "203.0.113.7"},
        })
    text = json.dumps({"batch": events, "sentAt": now})
    return text.encode(), b"@REQ@", b"@USER@"


def _client(port: int, key: str, seconds: float, index: int, results: multiprocessing.Queue, path: str) -> None:
    template, req_marker, user_marker = _batch_template()
    parts = template.split(req_marker)
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ok = failed = 0
    latencies = []
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        n += 1
        tag = f"c{index}r{n}".encode()
        body = tag.join(parts).replace(user_marker, f"user-{(index * 7919 + n) % USERS}".encode())
        start = time.perf_counter()
        try:
            conn.request("POST", path, body=body,
                         headers={"Content-Type": "application/json", "Authorization": auth})
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            failed += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append(time.perf_counter() - start)
        if response.status == 200:
            ok += 1
        else:
            failed += 1
    results.put({"ok": ok, "failed": failed, "latencies": latencies})


def _server_start(port: int, database_url: str) -> subprocess.Popen:
    # Kith's settings with the baseline view's URLconf added (bench/ingest_batch_app): one server for both.
    env = {**os.environ, "DATABASE_URL": database_url, "KITH_JOBS_RUNNER": "embedded",
           "DJANGO_SETTINGS_MODULE": "ingest_batch_app.settings",
           "PYTHONPATH": os.pathsep.join([str(SERVER / "src"), str(ROOT / "bench")])}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kith.wsgi", "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}"],
        cwd=SERVER, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("gunicorn did not start")


def _server_stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _load_run(port: int, key: str, seconds: float, clients: int, path: str = "/v1/batch") -> dict[str, float]:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(port, key, seconds, i, queue, path))
             for i in range(clients)]
    start = time.monotonic()
    for proc in procs:
        proc.start()
    outcomes = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - start
    latencies = sorted(x for o in outcomes for x in o["latencies"])
    ok = sum(o["ok"] for o in outcomes)
    return {"requests_ok": ok, "requests_failed": sum(o["failed"] for o in outcomes), "elapsed_s": elapsed,
            "accepted_events": ok * EVENTS_PER_REQUEST,
            "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else 0.0,
            "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000 if latencies else 0.0}


def _process_backlog(workspace, seconds: float) -> tuple[int, float]:
    from kith.events.services import events_process

    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        count = events_process(workspace=workspace)
        done += count
        if count == 0:
            break
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--process-seconds", type=float, default=20)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DB))
    args = parser.parse_args()
    _database_create(args.database_url)
    _setup_django(args.database_url)

    from django.core.management import call_command
    from django.db import connection
    from kith.accounts.models import Membership, Role, User, Workspace
    from kith.events.models import Event
    from kith.events.services import event_write_key_create

    call_command("migrate", verbosity=0)
    kith_runs, base_runs, details = [], [], []
    for run in range(args.runs):
        slug = f"bench-ingest-{int(time.time())}-{run}"
        workspace = Workspace.objects.create(name="Bench ingest", slug=slug)
        owner = User.objects.create_user(email=f"owner-{slug}@bench.test", password="x")
        Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
        _, key = event_write_key_create(workspace=workspace, actor=owner)
        base_ws = Workspace.objects.create(name="Bench baseline", slug=f"{slug}-base")
        port = _free_port()
        server = _server_start(port, args.database_url)
        bare = f"/bench/batch/{base_ws.pk}/"
        try:
            # Warm-up of both paths: imports, connections, plan caches.
            _load_run(port, key, 3, args.clients)
            _load_run(port, key, 3, args.clients, path=bare)
            Event.objects.filter(workspace__in=[workspace, base_ws]).delete()
            outcome = _load_run(port, key, args.seconds, args.clients)
            base = _load_run(port, key, args.seconds, args.clients, path=bare)
        finally:
            _server_stop(server)
        persisted = Event.objects.filter(workspace=workspace).count()
        outcome["persisted_events"] = persisted
        outcome["events_per_s"] = persisted / outcome["elapsed_s"]
        baseline = Event.objects.filter(workspace=base_ws).count() / base["elapsed_s"]
        if base["requests_failed"] or Event.objects.filter(workspace=base_ws).count() != base["accepted_events"]:
            raise SystemExit(f"the bare view lost or refused requests: {base}")
        processed, took = _process_backlog(workspace, args.process_seconds)
        outcome |= {"baseline_rows_per_s": baseline, "baseline_p99_ms": base["p99_ms"],
                    "baseline_p50_ms": base["p50_ms"], "processed_events": processed,
                    "processing_events_per_s": processed / took if took else 0.0}
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in outcome.items()}), flush=True)
        kith_runs.append(outcome["events_per_s"])
        base_runs.append(baseline)
        details.append(outcome)
        Event.objects.filter(workspace__in=[workspace, base_ws]).delete()

    value, base_value = statistics.median(kith_runs), statistics.median(base_runs)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True, check=False).stdout.strip()
    result = {
        "name": "ingest_batch", "figure": round(value), "better": "higher", "value": round(value),
        "unit": "events/s", "baseline_value": round(base_value),
        "baseline": ("bare Django view that only bulk-inserts the same JSON (one 100-row INSERT … ON CONFLICT DO "
                     "NOTHING per request), same gunicorn, clients and duration"),
        "ratio": round(value / base_value, 2), "runs": args.runs, "seconds": args.seconds, "clients": args.clients,
        "events_per_request": EVENTS_PER_REQUEST,
        "p50_ms": round(statistics.median(d["p50_ms"] for d in details), 1),
        "p99_ms": round(statistics.median(d["p99_ms"] for d in details), 1),
        "baseline_p99_ms": round(statistics.median(d["baseline_p99_ms"] for d in details), 1),
        "failed_requests": sum(d["requests_failed"] for d in details),
        "processing_events_per_s": round(statistics.median(d["processing_events_per_s"] for d in details)),
        "machine": f"{os.cpu_count()} cores, PostgreSQL {pg_version}, Python {platform.python_version()}",
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "ingest_batch.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result, kith_runs=kith_runs, base_runs=base_runs)
    print(json.dumps(result, indent=2))


def results_section_write(result: dict[str, object], *, kith_runs: list[float], base_runs: list[float]) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- ingest_batch -->", "<!-- /ingest_batch -->"
    section = f"""{start}
## ingest_batch — events/s through `POST /v1/batch`, 100 events per request, sustained {result["seconds"]:.0f} s

What: gunicorn with `deploy/gunicorn.conf.py` (2 workers × 4 threads, gthread) on loopback, PostgreSQL, embedded job
runner; {result["clients"]} client processes, one keep-alive connection each, posting pre-built batches of 100 track
events (~350 bytes each, unique messageIds) back to back. Each request: write-key check, JSON parse, per-event
validation and skew correction, one `INSERT … ON CONFLICT DO NOTHING` of 100 rows, one processing-job row. Figure =
rows in the events table ÷ elapsed time (accepted and persisted; {result["failed_requests"]} failed requests).
The clients run on the same 2 cores as the server and PostgreSQL.

Baseline (same run, same server, database and load): `POST /bench/batch/<workspace>/`, a {result["baseline"]} —
no write-key check, validation, skew correction or job row. Its p99 request latency: {result["baseline_p99_ms"]} ms.

| | events/s (median of {result["runs"]} run(s)) | all runs |
| --- | ---: | --- |
| Kith `/v1/batch` | **{result["value"]:,}** | {", ".join(f"{r:,.0f}" for r in kith_runs)} |
| bare Django bulk-insert view | {result["baseline_value"]:,} | {", ".join(f"{r:,.0f}" for r in base_runs)} |

Ratio Kith ÷ baseline: **{result["ratio"]}** (target ≥ 0.5). Target: ≥ 5,000 events/s. Request latency p50 {result["p50_ms"]} ms,
p99 {result["p99_ms"]} ms. For information, processing of the backlog afterwards (contact resolution and creation,
timeline entries, last-seen; one process): {result["processing_events_per_s"]:,} events/s.

Machine: {result["machine"]}. Date {result["date"]}, commit {result["commit"]}.
Reproduce: `flock /tmp/kith-bench.lock .venv/bin/python bench/ingest_batch.py --seconds {result["seconds"]:.0f} --clients {result["clients"]} --runs {result["runs"]}`.
{end}
"""
    text = path.read_text() if path.exists() else "# Benchmark results\n\nSee /work/shared/BENCH.md for how figures are recorded.\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


if __name__ == "__main__":
    main()
