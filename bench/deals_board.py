"""deals_board: server time of the Kanban board (``GET /deals/``) with 5,000 open deals in one pipeline.

Builds a throwaway database (SQLite under ``KITH_DATA_DIR``, or ``DATABASE_URL``), one workspace with an owner and
the default six-stage pipeline, and 5,000 deals spread over the open stages (bulk-inserted: this measures the read,
not the writes). Then renders the board through Django's test client — middleware, session, selectors, template —
and reports the median of ``--runs`` requests and the number of SQL queries. Target: ≤ 300 ms.

    .venv/bin/python bench/deals_board.py [--deals 5000] [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server" / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
os.environ.setdefault("KITH_DATA_DIR", tempfile.mkdtemp(prefix="kith-bench-deals-"))

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kith.accounts.models import Membership, Role, User, Workspace
from kith.deals.models import Deal, StageKind
from kith.deals.services import pipeline_create


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name="Bench", slug=f"bench-{int(time.time())}")
    user = User.objects.create_user(email=f"owner-{workspace.slug}@bench.test", password="x", full_name="Owner")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    pipeline = pipeline_create(workspace=workspace, actor=user, name="Sales")
    stages = list(pipeline.stages.filter(kind=StageKind.OPEN))
    Deal.objects.bulk_create([
        Deal(workspace=workspace, pipeline=pipeline, stage=stages[n % len(stages)], name=f"Deal {n}",
             value=Decimal(1000 + n), currency="EUR" if n % 3 else "USD", owner=user, position=n)
        for n in range(args.deals)
    ], batch_size=1000)
    client = Client()
    client.force_login(user)
    session = client.session
    session["workspace_id"] = workspace.pk
    session.save()
    client.get("/deals/")  # warm-up: template compilation, caches
    timings = []
    for _ in range(args.runs):
        start = time.perf_counter()
        response = client.get("/deals/")
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        client.get("/deals/")
    result = {"deals": args.deals, "median_ms": round(statistics.median(timings), 1),
              "p90_ms": round(sorted(timings)[int(len(timings) * 0.9) - 1], 1), "queries": len(queries),
              "database": connection.vendor, "cards_rendered": response.content.count(b'data-deal-id=')}
    print(json.dumps(result))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / f"deals_board_{connection.vendor}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
