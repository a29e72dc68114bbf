"""tracking_pixel: open-pixel requests/s ÷ a bare Django GIF view's requests/s, same production server and load.

Runs the production server set-up — gunicorn with ``deploy/gunicorn.conf.py`` (2 gthread workers × 4 threads),
``KITH_ENV=production``, bound to 127.0.0.1 — on a PostgreSQL database (``--database-url``, default
``postgres://postgres@127.0.0.1:5432/kith_tracking_bench``, created and migrated if missing; the bench's rows stay
there). The settings module is ``bench/tracking_pixel_app/settings.py``: Kith's settings with a URLconf that adds
``/bench/gif/``, a bare view returning the same 43-byte GIF and headers. Then ``wrk`` from loopback, 10 s per run,
alternating baseline and pixel, ``--runs`` times each; medians are reported. The pixel URL carries a valid signed
token of a real message, so every pixel request is a real hit INSERT (the row count is checked afterwards).

Requests carry ``X-Forwarded-Proto: https``, as they do behind the TLS-terminating proxy production runs behind
(otherwise production's SSL redirect answers the baseline with a 301).

Needs ``wrk`` (Debian: ``apt-get install -y wrk``).

    .venv/bin/python bench/tracking_pixel.py [--runs 3] [--duration 10] [--connections 8] [--full-stack]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kith_tracking_bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(args: argparse.Namespace, port: int, data_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "KITH_ENV": "production", "SECRET_KEY": "bench-" + "x" * 50, "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": args.database_url, "KITH_DATA_DIR": data_dir, "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "tracking_pixel_app.settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT / "server" / "src")]),
        "KITH_BENCH_FULL_STACK": "1" if args.full_stack else "0",
    })
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):  # the embedded job runner: no broker needed here
        env.pop(name, None)
    return env


SETUP = """
import django; django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from kith.accounts.models import Workspace
from kith.contacts.models import Contact
from kith.core import clock
from kith.messaging import links
from kith.messaging.models import Message, MessageStatus, SourceType
from kith.messaging.services import template_create
from kith.tracking.models import Hit
import time
ws = Workspace.objects.create(name="Bench", slug=f"bench-{time.time_ns()}")
contact = Contact.objects.create(workspace=ws, email="reader@bench.test", first_name="Reader")
template = template_create(workspace=ws, actor=None, name="Bench", content={
    "subject": "Hi", "html": '<p>Hello <a href="https://example.com/">there</a></p>', "from_email": "b@bench.test"})
now = clock.now()
message = Message.objects.create(workspace=ws, contact=contact, source_type=SourceType.CAMPAIGN, source_id="bench",
    template_version=template.current_version, to_address=contact.email, status=MessageStatus.SENT, queued_at=now,
    sent_at=now)
url = links.open_url(message_id=message.pk)
print(json.dumps({"path": "/" + url.split("://", 1)[1].split("/", 1)[1], "hits": Hit.objects.count(),
                  "message_id": message.pk}))
"""

COUNT = """
import django; django.setup()
from django.db import connection
from kith.tracking.models import Hit
print(json.dumps({"hits": Hit.objects.count(), "vendor": connection.vendor,
                  "version": connection.cursor().connection.info.server_version if connection.vendor == "postgresql" else ""}))
"""


def _django(code: str, env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT / "server").stdout
    return json.loads(out.strip().splitlines()[-1])


def _database_create(url: str) -> None:
    import psycopg  # the project's PostgreSQL driver

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def _wait_ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk(url: str, args: argparse.Namespace) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                          "--latency", "-H", "X-Forwarded-Proto: https", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = {}
    for pct in ("50", "99"):
        value, unit = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)\b", out).groups()
        latency[pct] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{url}: {errors.group(1)} error responses\n{out}")
    return {"rps": rps, "p50_ms": latency["50"], "p99_ms": latency["99"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--database-url", default=os.environ.get("KITH_BENCH_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("--full-stack", action="store_true",
                        help="without TrackingEndpointsMiddleware (diagnostic; not written to results)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("bench/tracking_pixel.py needs wrk: apt-get install -y wrk")
    _database_create(args.database_url)
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="kith-bench-pixel-")
    env = _environment(args, port, data_dir)
    setup = _django(SETUP, env)
    log = open(Path(data_dir) / "gunicorn.log", "w")  # noqa: SIM115 (open for the server's lifetime)
    server = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "kith.wsgi", "--config", str(ROOT / "deploy" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}"], env=env, cwd=ROOT / "server", stdout=log, stderr=log,
        start_new_session=True)
    try:
        _wait_ready(port)
        pixel_url = f"http://127.0.0.1:{port}{setup['path']}"
        bare_url = f"http://127.0.0.1:{port}/bench/gif/"
        for url in (bare_url, pixel_url):
            request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
            body = urllib.request.urlopen(request, timeout=5).read()
            assert body.startswith(b"GIF89a") and len(body) == 43, body[:20]
        quick = argparse.Namespace(**{**vars(args), "duration": 2})
        _wrk(bare_url, quick), _wrk(pixel_url, quick)  # warm-up: imports, connections, caches
        bare_runs, pixel_runs = [], []
        for _ in range(args.runs):
            bare_runs.append(_wrk(bare_url, args))
            pixel_runs.append(_wrk(pixel_url, args))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()
    after = _django(COUNT, env)
    inserted = int(after["hits"]) - int(setup["hits"])
    bare = {k: statistics.median(r[k] for r in bare_runs) for k in ("rps", "p50_ms", "p99_ms")}
    pixel = {k: statistics.median(r[k] for r in pixel_runs) for k in ("rps", "p50_ms", "p99_ms")}
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    pg_version = int(after["version"] or 0)
    result = {
        "name": "tracking_pixel", "figure": round(pixel["rps"] / bare["rps"], 2), "better": "higher",
        "value": round(pixel["rps"]), "unit": "requests/s", "baseline_value": round(bare["rps"]),
        "baseline": "bare Django view returning the same GIF (bench-only URLconf), same gunicorn and settings",
        "p99_ms": round(pixel["p99_ms"], 2), "p50_ms": round(pixel["p50_ms"], 2),
        "baseline_p99_ms": round(bare["p99_ms"], 2), "baseline_p50_ms": round(bare["p50_ms"], 2),
        "hits_inserted": inserted, "runs": args.runs, "duration_s": args.duration,
        "load": f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, loopback",
        "server": "gunicorn deploy/gunicorn.conf.py (2 gthread workers x 4 threads), KITH_ENV=production",
        "full_stack": args.full_stack,
        "machine": f"{os.cpu_count()} cores shared, {platform.machine()}, Python {platform.python_version()}, "
                   f"PostgreSQL {pg_version // 10000}.{pg_version % 10000}" if pg_version else after["vendor"],
        "load_average": round(os.getloadavg()[0], 1),
        "commit": commit, "date": dt.date.today().isoformat(),
    }
    print(json.dumps({**result, "bare_runs": bare_runs, "pixel_runs": pixel_runs}, indent=2))
    if args.full_stack:
        return  # a diagnostic run: the recorded figure is the production set-up's
    (ROOT / "bench" / "results" / "tracking_pixel.json").write_text(json.dumps(result, indent=2) + "\n")
    results_section_write(result, bare_runs=bare_runs, pixel_runs=pixel_runs)


def results_section_write(result: dict[str, object], *, bare_runs: list[dict[str, float]],
                          pixel_runs: list[dict[str, float]]) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (between its markers), or append it."""
    path = ROOT / "bench" / "RESULTS.md"
    start, end = "<!-- tracking_pixel -->", "<!-- /tracking_pixel -->"

    def runs(items: list[dict[str, float]]) -> str:
        return ", ".join(f"{r['rps']:,.0f} rps / p99 {r['p99_ms']:.1f} ms" for r in items)

    section = f"""{start}
## tracking_pixel — open-pixel requests/s ÷ bare Django GIF view requests/s

What: `GET /o/<signed token>/` for a real message (signature check + one INSERT into `tracking_hit`, answered by
`TrackingEndpointsMiddleware` before sessions and auth) against `GET /bench/gif/`, a bare Django view returning the
same 43-byte GIF through the full middleware stack, on the same server: {result["server"]}, PostgreSQL on loopback.
Load: {result["load"]}, alternating, median of {result["runs"]} runs each. {result["hits_inserted"]:,} hits were
inserted during the pixel runs (checked in the database afterwards).

| | requests/s | p50 | p99 | runs |
| --- | ---: | ---: | ---: | --- |
| bare Django GIF view (baseline) | {result["baseline_value"]:,} | {result["baseline_p50_ms"]} ms | {result["baseline_p99_ms"]} ms | {runs(bare_runs)} |
| Kith open pixel | **{result["value"]:,}** | {result["p50_ms"]} ms | **{result["p99_ms"]} ms** | {runs(pixel_runs)} |

Ratio pixel ÷ baseline: **{result["figure"]}** (target ≥ 0.7); pixel p99 {result["p99_ms"]} ms (target ≤ 20 ms).

Machine: {result["machine"]} (the load generator shares the cores; 1-minute load average
{result["load_average"]} at the end, from other work on this shared machine). Date {result["date"]}, commit {result["commit"]}
(plus uncommitted work). Needs `wrk` (`apt-get install -y wrk`).
Reproduce: `.venv/bin/python bench/tracking_pixel.py --runs 3` (`--full-stack` measures the pixel without the
middleware short-circuit, not recorded).
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
