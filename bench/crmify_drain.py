"""crmify_drain: how fast crmify empties a backlog of leads into Kith.

A host project (crmify's test project, PostgreSQL) creates ``--leads`` users while the CRM is unreachable
(``DELIVERY="manual"``: nothing is delivered), so each has a lead and a pending outbox entry. Then
``crmify.delivery.drain()`` delivers the backlog to a real Kith — gunicorn with ``deploy/gunicorn.conf.py`` on
loopback, its own PostgreSQL database — through ``KithBackend`` (bulk upsert, ``--batch`` = ``BATCH_SIZE`` leads per call, Kith takes up to 1,000).
Baseline in the same run: the same number of contacts posted straight to Kith's bulk endpoint by a bare httpx loop
(no outbox, no claims, no bookkeeping), into a second workspace. Target: ≥ 500 leads/s.

    .venv/bin/python bench/crmify_drain.py [--leads 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "server"
KITH_DB = "postgres://postgres@127.0.0.1:5432/kith_bench_crmify"
HOST_DB = "postgres://postgres@127.0.0.1:5432/crmify_bench_drain"

KITH_SETUP = """
import secrets
from kith.accounts.models import Membership, Role, User, Workspace
from kith.accounts.services import api_key_create
keys = []
for label in ("crmify", "baseline"):
    slug = f"bench-{label}-{secrets.token_hex(4)}"
    workspace = Workspace.objects.create(name=slug, slug=slug)
    user = User.objects.create_user(email=f"{slug}@bench.test", password="x", full_name="Bench")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    keys.append(api_key_create(workspace=workspace, actor=user, name=label, scopes=["read", "write"])[1])
print(" ".join(keys))
"""


def psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)


def fresh_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    psql(f'DROP DATABASE IF EXISTS "{name}"')
    psql(f'CREATE DATABASE "{name}"')


def kith_env() -> dict[str, str]:
    data_dir = tempfile.mkdtemp(prefix="kith-bench-crmify-")
    return {**os.environ, "DATABASE_URL": KITH_DB, "KITH_DATA_DIR": data_dir, "KITH_JOBS_RUNNER": "embedded",
            "DJANGO_SETTINGS_MODULE": "kith.settings", "PYTHONPATH": str(SERVER / "src")}


def kith_start(port: int) -> tuple[subprocess.Popen, list[str]]:
    env = kith_env()
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=SERVER, env=env, check=True)
    keys = subprocess.run([sys.executable, "manage.py", "shell", "-c", KITH_SETUP], cwd=SERVER, env=env,
                          check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1].split()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "kith.wsgi", "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}"],
        cwd=SERVER, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    for _ in range(150):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, keys
        except OSError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("Kith (gunicorn) did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="leads per bulk call (CRMIFY['BATCH_SIZE'])")
    args = parser.parse_args()

    fresh_database(KITH_DB)
    fresh_database(HOST_DB)
    port = free_port()
    server, (crmify_key, baseline_key) = kith_start(port)
    base_url = f"http://127.0.0.1:{port}"
    try:
        result = measure(args, base_url, crmify_key, baseline_key)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    print(json.dumps(result, indent=2))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "crmify_drain.json").write_text(json.dumps(result, indent=2) + "\n")
    write_section(result, args)


def measure(args: argparse.Namespace, base_url: str, crmify_key: str, baseline_key: str) -> dict:
    sys.path.insert(0, str(ROOT / "crmify"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["CRMIFY_TEST_DATABASE_URL"] = HOST_DB
    import django

    django.setup()
    import httpx
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import override_settings

    from crmify import delivery
    from crmify.models import OutboxEntry

    call_command("migrate", verbosity=0)
    crmify_settings = {"BACKEND": "crmify.backends.kith.KithBackend",
                       "BACKEND_AUTH": {"api_key": crmify_key, "base_url": base_url},
                       "DELIVERY": "manual", "BATCH_SIZE": args.batch}
    kith_rates, base_rates = [], []
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {baseline_key}"}, timeout=60) as raw:
        for run in range(args.runs):
            with override_settings(CRMIFY=crmify_settings):
                for start in range(0, args.leads, 1000):
                    for n in range(start, min(start + 1000, args.leads)):
                        User.objects.create(username=f"r{run}u{n}", first_name="Zoë", last_name=f"Bench {n}",
                                            email=f"r{run}u{n}@bench.example")
                pending = OutboxEntry.objects.filter(status="pending").count()
                assert pending == args.leads, pending
                began = time.perf_counter()
                outcome = delivery.drain()
                elapsed = time.perf_counter() - began
                assert outcome.delivered == args.leads and outcome.retried == outcome.dead == 0, outcome
                kith_rates.append(args.leads / elapsed)

            items = [{"external_id": f"b{run}-{n}", "email": f"b{run}u{n}@bench.example", "first_name": "Zoë",
                      "last_name": f"Bench {n}", "lead_status": "not_contacted", "source": "crmify"}
                     for n in range(args.leads)]
            began = time.perf_counter()
            for start in range(0, len(items), args.batch):
                response = raw.post("/api/v1/contacts/bulk/", json={"items": items[start:start + args.batch]})
                response.raise_for_status()
            base_rates.append(args.leads / (time.perf_counter() - began))

    figure = statistics.median(kith_rates)
    baseline = statistics.median(base_rates)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"name": "crmify_drain", "figure": round(figure, 1), "better": "higher", "value": round(figure, 1),
            "unit": "leads/s", "baseline_value": round(baseline, 1),
            "baseline": f"bare httpx loop posting the same contacts to /api/v1/contacts/bulk/ ({args.batch} per call)",
            "batch": args.batch,
            "ratio": round(figure / baseline, 3), "runs": args.runs, "leads_per_run": args.leads,
            "kith_runs": [round(r, 1) for r in kith_rates], "baseline_runs": [round(r, 1) for r in base_rates],
            "machine": f"{os.cpu_count()} cores, PostgreSQL", "commit": commit,
            "date": datetime.now(timezone.utc).date().isoformat(), "python": platform.python_version(),
            "database_settings": settings.DATABASES["default"]["ENGINE"]}


def write_section(result: dict, args: argparse.Namespace) -> None:
    section = f"""<!-- crmify_drain -->
## crmify_drain — leads/s crmify delivers from a backlog into Kith

What: a host (crmify's test project, PostgreSQL) saves {args.leads} users while nothing is delivered, then
`crmify.delivery.drain()` sends the backlog to a real Kith (gunicorn, `deploy/gunicorn.conf.py`, loopback, its own
PostgreSQL database) through `KithBackend`: claims, bulk upsert of {args.batch} leads per call (`BATCH_SIZE`), bookkeeping.
Everything (host, Kith, both databases) shares the machine's {os.cpu_count()} cores.

Baseline (same run, same Kith): a bare httpx loop posting the same number of contacts to `/api/v1/contacts/bulk/`,
{args.batch} per call, into a second workspace — what Kith's API itself allows.

| | leads/s (median of {result['runs']} runs × {args.leads}) | all runs |
| --- | ---: | --- |
| crmify drain → Kith | **{result['figure']:,.0f}** | {', '.join(f'{r:,.0f}' for r in result['kith_runs'])} |
| bare bulk-API loop | {result['baseline_value']:,.0f} | {', '.join(f'{r:,.0f}' for r in result['baseline_runs'])} |

Ratio crmify ÷ baseline: **{result['ratio']:.2f}**. Target: ≥ 500 leads/s.

Machine: {os.cpu_count()} cores, PostgreSQL 15, Python {result['python']}. Date {result['date']}, commit {result['commit']}.
Reproduce: `.venv/bin/python bench/crmify_drain.py --leads {args.leads} --runs {args.runs} --batch {args.batch}`.
<!-- /crmify_drain -->"""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    begin, end = "<!-- crmify_drain -->", "<!-- /crmify_drain -->"
    if begin in text:
        text = text[:text.index(begin)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
