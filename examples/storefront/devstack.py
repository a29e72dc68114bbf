"""Start and stop the example's processes: Kith (as ``make run`` starts it), the SMS sink, the store and its
crmify worker. Used by ``make example`` (``python devstack.py``) and by the end-to-end test, so the test runs
exactly what a person runs.

Every process gets its own process group: stopping one stops its children too (Kith's ``kith_run`` stops its
gunicorn, job runner and mail sink itself on SIGTERM), and nothing started here outlives ``Stack.stop_all``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

STORE_DIR = Path(__file__).resolve().parent
REPO = STORE_DIR.parent.parent
SERVER_DIR = REPO / "server"
PYTHON = sys.executable
# Environment a developer's shell may hold that would send Kith to another database or broker: the example is
# the embedded setup (SQLite, embedded job runner), like make run.
KITH_ENV_DROPPED = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "KITH_CACHE_URL", "PROMETHEUS_MULTIPROC_DIR")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(200 <= response.status < 400)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Ports:
    kith: int
    smtp: int
    store: int
    sms: int

    @classmethod
    def free(cls) -> Ports:
        return cls(kith=free_port(), smtp=free_port(), store=free_port(), sms=free_port())


@dataclass
class Stack:
    root: Path
    ports: Ports
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)
    api_key: str = ""

    # --- where things are --------------------------------------------------------------------------------------
    @property
    def kith_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.kith}"

    @property
    def store_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.store}"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.sms}/sms"

    @property
    def kith_data(self) -> Path:
        return self.root / "kith"

    @property
    def store_data(self) -> Path:
        return self.root / "store"

    @property
    def mail_dir(self) -> Path:
        return self.kith_data / "mailsink"

    @property
    def sms_dir(self) -> Path:
        return self.root / "sms"

    @property
    def bootstrap_file(self) -> Path:
        return self.root / "kith-bootstrap.json"

    def log_path(self, name: str) -> Path:
        return self.root / "logs" / f"{name.replace(' ', '-')}.log"

    # --- environments ------------------------------------------------------------------------------------------
    def kith_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in KITH_ENV_DROPPED}
        env.update({
            "DJANGO_SETTINGS_MODULE": "kith.settings",
            "KITH_DATA_DIR": str(self.kith_data), "KITH_PORT": str(self.ports.kith),
            "KITH_BASE_URL": self.kith_url, "KITH_SMTP_PORT": str(self.ports.smtp),
            "KITH_JOBS_RUNNER": "embedded", "KITH_MESSAGING_EMAIL_BACKEND": "smtp",
            "KITH_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "KITH_SMS_HTTP_URL": self.sms_url, "KITH_LOG_LEVEL": os.environ.get("KITH_LOG_LEVEL", "WARNING"),
        })
        if os.environ.get("STOREFRONT_KITH_DATABASE_URL"):
            # Kith on PostgreSQL instead of its SQLite file (an empty database: the test expects a fresh Kith).
            env["DATABASE_URL"] = os.environ["STOREFRONT_KITH_DATABASE_URL"]
        return env

    def store_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update({"STOREFRONT_DATA_DIR": str(self.store_data), "KITH_URL": self.kith_url,
                    "KITH_API_KEY": self.api_key, "STOREFRONT_CRMIFY_DELIVERY": "manual"})
        return env

    # --- processes ---------------------------------------------------------------------------------------------
    def spawn(self, name: str, command: list[str], *, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
        self.log_path(name).parent.mkdir(parents=True, exist_ok=True)
        log = self.logs.get(name) or open(self.log_path(name), "ab")  # noqa: SIM115 — closed in stop()
        self.logs[name] = log
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                   process_group=0)
        self.processes[name] = process
        return process

    def run(self, name: str, command: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> str:
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                                check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{name} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def wait_for(self, name: str, url: str, *, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(name)
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{name} exited ({process.returncode}); see {self.log_path(name)}")
            if http_ok(url):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{name} did not answer {url} within {timeout:g} s; see {self.log_path(name)}")

    def stop(self, name: str, *, timeout: float = 30) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)  # whatever the group still holds
        except ProcessLookupError:
            pass
        process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)
        for log in self.logs.values():
            log.close()
        self.logs.clear()

    # --- the pieces --------------------------------------------------------------------------------------------
    def start_sms_sink(self) -> None:
        self.spawn("sms sink", [PYTHON, str(STORE_DIR / "smssink.py"), "--port", str(self.ports.sms),
                                "--dir", str(self.sms_dir)], env=dict(os.environ), cwd=STORE_DIR)

    def start_kith(self) -> None:
        """``kith_run`` as ``make run`` starts it: migrate, demo data, gunicorn, the embedded job runner, the mail
        sink. Answers /healthz when ready."""
        self.kith_data.mkdir(parents=True, exist_ok=True)
        self.spawn("kith", [PYTHON, "-m", "kith", "kith_run", "--port", str(self.ports.kith)],
                   env=self.kith_env(), cwd=SERVER_DIR)
        self.wait_for("kith", f"{self.kith_url}/healthz")

    def stop_kith(self) -> None:
        self.stop("kith")

    def bootstrap_kith(self) -> dict[str, Any]:
        """Workspace, API key, delivery settings and templates (kith_setup/bootstrap.py; see why there)."""
        self.run("bootstrap", [PYTHON, str(STORE_DIR / "kith_setup" / "bootstrap.py"), "--store-url",
                               self.store_url, "--out", str(self.bootstrap_file)], env=self.kith_env(),
                 cwd=SERVER_DIR)
        result: dict[str, Any] = json.loads(self.bootstrap_file.read_text())
        self.api_key = result["api_key"]
        return result

    def manage(self, *args: str) -> str:
        return self.run("manage.py " + " ".join(args[:1]), [PYTHON, str(STORE_DIR / "manage.py"), *args],
                        env=self.store_env(), cwd=STORE_DIR)

    def configure_kith(self, *, abandoned_after_seconds: int = 30 * 60) -> str:
        return self.manage("storefront_configure_kith", "--kith-url", self.kith_url, "--bootstrap-file",
                           str(self.bootstrap_file), "--abandoned-after-seconds", str(abandoned_after_seconds))

    def start_store(self) -> None:
        self.manage("migrate", "--noinput")
        self.spawn("store", [PYTHON, str(STORE_DIR / "manage.py"), "runserver", "--noreload",
                             f"127.0.0.1:{self.ports.store}"], env=self.store_env(), cwd=STORE_DIR)
        self.spawn("crmify worker", [PYTHON, str(STORE_DIR / "manage.py"), "crmify_worker", "--interval", "0.5"],
                   env=self.store_env(), cwd=STORE_DIR)
        self.wait_for("store", f"{self.store_url}/")

    def start(self, *, abandoned_after_seconds: int = 30 * 60) -> None:
        self.start_sms_sink()
        self.start_kith()
        self.bootstrap_kith()
        self.configure_kith(abandoned_after_seconds=abandoned_after_seconds)
        self.start_store()


def main() -> None:
    """``make example``: everything, until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Run Kith, the storefront and its workers locally.")
    parser.add_argument("--data-dir", default=os.environ.get("STOREFRONT_EXAMPLE_DIR",
                                                             str(REPO / "var" / "storefront-example")))
    parser.add_argument("--kith-port", type=int, default=int(os.environ.get("STOREFRONT_KITH_PORT", "8100")))
    parser.add_argument("--store-port", type=int, default=int(os.environ.get("STOREFRONT_PORT", "8101")))
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("STOREFRONT_SMTP_PORT", "8125")))
    parser.add_argument("--sms-port", type=int, default=int(os.environ.get("STOREFRONT_SMS_PORT", "8126")))
    parser.add_argument("--abandoned-after-seconds", type=int, default=30 * 60)
    args = parser.parse_args()
    ports = Ports(kith=args.kith_port, smtp=args.smtp_port, store=args.store_port, sms=args.sms_port)
    for variable, port in (("STOREFRONT_KITH_PORT", ports.kith), ("STOREFRONT_PORT", ports.store),
                           ("STOREFRONT_SMTP_PORT", ports.smtp), ("STOREFRONT_SMS_PORT", ports.sms)):
        if not port_free(port):
            sys.exit(f"error: port {port} is in use; stop what uses it or set {variable}.")
    stack = Stack(root=Path(args.data_dir).resolve(), ports=ports)
    running = False

    def on_signal(signum: int, frame: object) -> None:
        # While starting, a Ctrl-C interrupts the start; once running, the loop below notices and stops.
        if not running:
            raise KeyboardInterrupt
        stopping.append(signum)

    stopping: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    code = 0
    try:
        print(f"Starting Kith on {stack.kith_url} (first start migrates and creates demo data) …", flush=True)
        stack.start(abandoned_after_seconds=args.abandoned_after_seconds)
        running = True
        print(f"""
The storefront example is running (logs in {stack.root / 'logs'}):
  Store          {stack.store_url}/   sign up, buy a car (card 4242 4242 4242 4242; 4000 0000 0000 0002 is declined)
  Kith           {stack.kith_url}/   log in as demo@kith.localhost / kith-demo, workspace "Kars storefront"
  E-mails        {stack.mail_dir}   (.eml files from Kith's mail sink)
  Text messages  {stack.sms_dir}   (.json files from the SMS sink)
Press Ctrl-C to stop.""", flush=True)
        while not stopping:
            for name, process in stack.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"The {name} exited ({process.returncode}); see {stack.log_path(name)}")
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("Interrupted while starting.", file=sys.stderr)
        code = 130
    except (RuntimeError, subprocess.SubprocessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        print("Stopping …", flush=True)
        stack.stop_all()
    print("Stopped.")
    sys.exit(code)

if __name__ == "__main__":
    main()
