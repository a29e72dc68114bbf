"""A local SMS sink: the "provider" Kith's generic HTTP SMS backend posts to in development and tests.

Kith's ``http`` SMS backend sends ``POST <KITH_SMS_HTTP_URL>`` with ``{"to", "from", "body", "reference", ...}``
and expects 2xx with ``{"id": ...}``. This server answers that and writes each message as a JSON file into
``--dir`` (one file per message, named by arrival), the SMS twin of Kith's mail sink. A repeated
``Idempotency-Key`` is stored once, as a real provider would.

    python smssink.py --port 8025 --dir var/sms
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_BODY = 64 * 1024


def sms_read(directory: Path) -> list[dict[str, Any]]:
    """The messages the sink holds, oldest first."""
    return [json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))]


class SmsSink(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, directory: Path) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.seen: dict[str, str] = {}

    def store(self, message: dict[str, Any], key: str) -> str:
        with self.lock:
            if key and key in self.seen:
                return self.seen[key]
            number = len(list(self.directory.glob("*.json"))) + 1
            sms_id = f"sms-{number}"
            path = self.directory / f"{time.strftime('%Y%m%d-%H%M%S')}-{number:05d}.json"
            path.write_text(json.dumps({"id": sms_id, **message}, ensure_ascii=False, indent=2))
            if key:
                self.seen[key] = sms_id
            return sms_id


class Handler(BaseHTTPRequestHandler):
    server: SmsSink

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length <= 0 or length > MAX_BODY:
            self._answer(400, {"error": "Send a JSON body of at most 64 KB."})
            return
        try:
            message = json.loads(self.rfile.read(length))
        except ValueError:
            self._answer(400, {"error": "The body is not JSON."})
            return
        if not isinstance(message, dict) or not message.get("to") or not isinstance(message.get("body"), str):
            self._answer(400, {"error": "Give \"to\" and \"body\"."})
            return
        sms_id = self.server.store(message, self.headers.get("Idempotency-Key", ""))
        self._answer(201, {"id": sms_id})

    def _answer(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMS sink for Kith's HTTP SMS backend.")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", required=True)
    args = parser.parse_args()
    server = SmsSink(args.port, Path(args.dir))
    print(f"SMS sink on http://127.0.0.1:{args.port}/sms, messages in {args.dir}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
