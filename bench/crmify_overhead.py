"""crmify_overhead: what crmify adds to a host request that saves a lead model.

The host is crmify's test project (``crmify/tests``): ``POST /users/<pk>/rename/`` loads a ``User``, changes its
first name and saves it — so every request really changes what the CRM sees and queues a sync. The same requests
run with crmify's receivers connected and disconnected, interleaved in blocks so machine noise hits both alike,
through Django's test client (full middleware stack, in process) on a file SQLite database in WAL mode, or
PostgreSQL with ``--postgres``. Delivery is left to the background (``DELIVERY="manual"`` here: the request's
share is the outbox write, which is what is measured). Figure: p50 overhead in ms; target p50 ≤ 1 ms, p99 ≤ 5 ms.

    .venv/bin/python bench/crmify_overhead.py [--requests 2000] [--runs 3] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "crmify"))
os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
os.environ.setdefault("CRMIFY_TEST_DATA_DIR", tempfile.mkdtemp(prefix="crmify-bench-"))

PG_URL = "postgres://postgres@127.0.0.1:5432/crmify_bench"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(client, user_ids: list[int], requests: int, tag: str) -> list[float]:
    timings = []
    for n in range(requests):
        pk = user_ids[n % len(user_ids)]
        start = time.perf_counter()
        response = client.post(f"/users/{pk}/rename/", {"first_name": f"{tag}{n}"})
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--autocommit", action="store_true",
                        help="run the host without ATOMIC_REQUESTS: crmify's writes become a second commit")
    args = parser.parse_args()
    if args.postgres:
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "DROP DATABASE IF EXISTS crmify_bench"],
                       check=True)
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", "CREATE DATABASE crmify_bench"],
                       check=True)
        os.environ["CRMIFY_TEST_DATABASE_URL"] = PG_URL

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from crmify import receivers
    from crmify.models import OutboxEntry

    # Most Django hosts save in a request transaction (ATOMIC_REQUESTS or an atomic block): crmify's writes then
    # join the host's commit. Without one, Django commits the host's save by itself and crmify's writes commit
    # separately afterwards (one more flush) — measured with --autocommit.
    settings.DATABASES["default"]["ATOMIC_REQUESTS"] = not args.autocommit
    if not args.postgres:
        settings.DATABASES["default"]["NAME"] = os.path.join(os.environ["CRMIFY_TEST_DATA_DIR"], "bench.sqlite3")
    call_command("migrate", verbosity=0)
    receivers.disconnect()
    User.objects.bulk_create([User(username=f"bench{n}", email=f"bench{n}@example.com") for n in range(500)])
    receivers.connect()
    user_ids = list(User.objects.order_by("pk").values_list("pk", flat=True))
    client = Client()
    # Warm-up: URL resolution, first queries, the leads' first creation (later requests update them).
    measure(client, user_ids, len(user_ids), "warm")
    receivers.disconnect()
    measure(client, user_ids, 200, "warmoff")

    runs = []
    for run in range(args.runs):
        with_crmify: list[float] = []
        without: list[float] = []
        block = 100
        for start in range(0, args.requests, block):
            receivers.connect()
            with_crmify += measure(client, user_ids, block, f"on{run}-{start}-")
            receivers.disconnect()
            without += measure(client, user_ids, block, f"off{run}-{start}-")
        runs.append({
            "with_p50": statistics.median(with_crmify), "without_p50": statistics.median(without),
            "with_p99": percentile(with_crmify, 0.99), "without_p99": percentile(without, 0.99),
        })
    queued = OutboxEntry.objects.count()
    p50_overheads = [r["with_p50"] - r["without_p50"] for r in runs]
    p99_overheads = [r["with_p99"] - r["without_p99"] for r in runs]
    figure = round(statistics.median(p50_overheads), 3)
    p99 = round(statistics.median(p99_overheads), 3)
    vendor = connection.vendor
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    baseline_p50 = round(statistics.median(r["without_p50"] for r in runs), 3)
    result = {"name": "crmify_overhead", "figure": figure, "better": "lower", "value": figure, "unit": "ms",
              "p99_overhead_ms": p99, "baseline_value": baseline_p50,
              "baseline": "the same request with crmify's receivers disconnected (p50 ms)",
              "with_crmify_p50_ms": round(statistics.median(r["with_p50"] for r in runs), 3),
              "atomic_requests": not args.autocommit, "runs": args.runs, "requests_per_run": args.requests, "outbox_entries_written": queued,
              "machine": f"{os.cpu_count()} cores, {vendor}", "commit": commit, "date": datetime.now(timezone.utc).date().isoformat()}
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "crmify_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    write_section(result, runs, vendor, args)


def write_section(result: dict, runs: list[dict], vendor: str, args: argparse.Namespace) -> None:
    rows = "\n".join(
        f"| {n + 1} | {r['without_p50']:.3f} | {r['with_p50']:.3f} | {r['with_p50'] - r['without_p50']:.3f} | "
        f"{r['without_p99']:.3f} | {r['with_p99']:.3f} |" for n, r in enumerate(runs))
    section = f"""<!-- crmify_overhead -->
## crmify_overhead — ms crmify adds to a host request that saves a lead model

What: crmify's test host project, `POST /users/<pk>/rename/` (load a User, change its first name, save: every
request changes what the CRM sees, so crmify maps the lead, bumps its version and writes or coalesces an outbox
entry). {args.requests} requests per run with crmify's receivers connected and as many with them disconnected,
interleaved in blocks of 100, Django test client in process (full middleware stack), {vendor}
{'autocommit (no request transaction)' if args.autocommit else 'ATOMIC_REQUESTS=True'}
{'(PostgreSQL 15)' if vendor == 'postgresql' else '(file database, WAL)'}. Delivery is not part of the request.

Baseline (same run): the same request without crmify.

| run | p50 without (ms) | p50 with (ms) | p50 overhead (ms) | p99 without | p99 with |
| --- | ---: | ---: | ---: | ---: | ---: |
{rows}

Overhead, median of {len(runs)} runs: p50 **{result['figure']:.3f} ms** (target ≤ 1 ms), p99 {result['p99_overhead_ms']:.3f} ms
(target ≤ 5 ms).

Machine: {os.cpu_count()} cores, {vendor}, Python {platform.python_version()}. Date {result['date']}, commit {result['commit']}.
Reproduce: `.venv/bin/python bench/crmify_overhead.py --requests {args.requests} --runs {args.runs}{' --postgres' if args.postgres else ''}{' --autocommit' if args.autocommit else ''}`.
<!-- /crmify_overhead -->"""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    begin, end = "<!-- crmify_overhead -->", "<!-- /crmify_overhead -->"
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
