"""``manage.py kith_run`` — what ``make run`` starts: migrate, demo data, then the web server and the job runner.

The web server is gunicorn (two workers, four threads each: the same server as production, so the first run is
not a different program than the deployment) and the job runner is ``manage.py kith_worker``, the embedded
runner. Both run as child processes in their own process groups, so a Ctrl-C in the terminal reaches only this
command, which then stops them in order: SIGTERM, a grace period, then SIGKILL for the whole group (gunicorn's
workers included). If either child dies on its own, the other is stopped too and the command exits non-zero, so
``make run`` never leaves a half-working server behind.

Remaining window: if this process itself is SIGKILLed, the children keep running (they are in other process
groups); stop them with ``kill -TERM -<pid>`` of the gunicorn master and the worker.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from kith.accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from kith.core.metrics import MULTIPROC_ENV

# How often the foreground loop checks the children; also the latency of noticing a crash or a signal.
POLL_SECONDS = 0.2
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


class Command(BaseCommand):
    help = "Migrate, create demo data, then run the web server and the embedded job runner until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.KITH_PORT, help="Port on 127.0.0.1 (KITH_PORT).")
        parser.add_argument(
            "--stop-timeout",
            type=float,
            default=10.0,
            help="Seconds the children get to stop after SIGTERM before they are killed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port: int = options["port"]
        self.stop_timeout: float = options["stop_timeout"]
        self.stop_signal: int | None = None
        _ensure_port_free(port)
        _ensure_port_free(settings.EMAIL_PORT, variable="KITH_SMTP_PORT", what="the local mail sink")
        settings.KITH_DATA_DIR.mkdir(parents=True, exist_ok=True)
        # Development serves static files from the apps (finders); whitenoise still warns if its root is missing.
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

        self.stdout.write("Migrating the database …")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("kith_demo", stdout=self.stdout, verbosity=options["verbosity"])

        url = f"http://127.0.0.1:{port}/"
        env = self._child_environment(port)
        # A signal ignored on purpose (SIGHUP under nohup) stays ignored.
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in _STOP_SIGNALS if signal.getsignal(sig) != signal.SIG_IGN
        }
        children: list[Child] = []
        try:
            self.stdout.write(f"Starting the web server on {url}, the job runner and the local mail sink …")
            self.stdout.flush()
            children.append(Child("mail sink", _spawn([sys.executable, "-m", "kith", "kith_mailsink"], env)))
            children.append(Child("web server", _spawn(_web_command(port), env)))
            children.append(Child("job runner", _spawn([sys.executable, "-m", "kith", "kith_worker"], env)))
            crashed = self._supervise(children, health_url=f"{url}healthz", url=url)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if crashed is not None:
            raise CommandError(
                f"The {crashed.name} exited unexpectedly (exit code {crashed.process.returncode}); "
                "stopped everything else.",
                returncode=1,
            )
        self.stdout.write("Kith stopped.")

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop_signal = signum

    def _child_environment(self, port: int) -> dict[str, str]:
        env = os.environ.copy()
        # Pin what the parent resolved, so the children use the same database whatever their working directory.
        env["KITH_DATA_DIR"] = str(settings.KITH_DATA_DIR)
        env["KITH_PORT"] = str(port)
        env["DJANGO_SETTINGS_MODULE"] = os.environ.get("DJANGO_SETTINGS_MODULE", "kith.settings")
        # make run is the embedded setup: a REDIS_URL left in the shell must not send jobs to a broker no worker reads.
        env.setdefault("KITH_JOBS_RUNNER", "embedded")
        # Every e-mail (sign-up confirmations, invitations, messages) goes to the local sink started next to the web
        # server, where it can be read under KITH_DATA_DIR/mailsink, instead of to a real mail server.
        env.setdefault("KITH_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
        env.setdefault("KITH_MESSAGING_EMAIL_BACKEND", "smtp")
        if MULTIPROC_ENV not in env:
            # Two gunicorn workers: without a shared directory /metrics would show one worker's counters at random.
            metrics_dir = settings.KITH_DATA_DIR / "prometheus"
            shutil.rmtree(metrics_dir, ignore_errors=True)  # files of a previous run would be summed in
            metrics_dir.mkdir(parents=True)
            env[MULTIPROC_ENV] = str(metrics_dir)
        return env

    def _supervise(self, children: list[Child], *, health_url: str, url: str) -> Child | None:
        """Wait for a stop signal (returns ``None``) or a child's death (returns that child)."""
        announced = False
        while self.stop_signal is None:
            for child in children:
                if child.process.poll() is not None:
                    return child
            if not announced and _answers_ok(health_url):
                announced = True
                self.stdout.write(self.style.SUCCESS(f"Kith is running at {url}"))
                self.stdout.write(f"  Log in as {DEMO_EMAIL} with password {DEMO_PASSWORD}. Press Ctrl-C to stop.")
                self.stdout.flush()
            time.sleep(POLL_SECONDS)
        self.stdout.write(f"Stopping (signal {signal.Signals(self.stop_signal).name}) …")
        return None

    def _stop(self, children: list[Child]) -> None:
        for child in children:
            if child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + self.stop_timeout
        for child in children:
            try:
                child.process.wait(timeout=max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"The {child.name} did not stop within {self.stop_timeout:g} s; killing it.")
            # Also after a clean exit: sweeps any process the child left in its group (gunicorn workers of a
            # master that crashed).
            _kill_group(child.process.pid)
            child.process.wait()


def _web_command(port: int) -> list[str]:
    # No gunicorn access log: MetricsMiddleware writes one structured line per request, with the request id.
    # No control socket: its default path is per user, so two servers on one machine would fight over it.
    return [
        sys.executable, "-m", "gunicorn", "kith.wsgi",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--no-control-socket",
    ]  # fmt: skip


def _spawn(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A process group of its own: the terminal's Ctrl-C goes to this command only, which stops the children in
    # order; and the group can be killed as a whole.
    return subprocess.Popen(command, env=env, process_group=0)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is empty: everything in it has exited


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _ensure_port_free(port: int, *, variable: str = "KITH_PORT", what: str = "the other server") -> None:
    """Fail before migrating, with a message that says what to do, rather than after gunicorn's bind retries."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR as gunicorn uses it: a port in TIME_WAIT from the previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(f"Port {port} is already in use; stop {what} or set {variable}.") from exc
            raise
