"""Local stand-ins for the vendor CRMs, speaking their documented HTTP APIs (a real socket, real JSON).

Each keeps its records in memory, checks the credentials the way the vendor does, and can be told to fail the next
requests (``fail_next.append((status, headers, body))``) or to be slow (``delay``) so tests cover 429s, outages and
timeouts.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class StandIn:
    def __init__(self) -> None:
        self.records: dict[int, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.fail_next: list[tuple[int, dict[str, str], str]] = []
        self.delay = 0.0
        self.ids = itertools.count(1001)
        self.lock = threading.Lock()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                with standin.lock:
                    standin.requests.append((self.command, self.path))
                    failure = standin.fail_next.pop(0) if standin.fail_next else None
                if standin.delay:
                    time.sleep(standin.delay)
                if failure:
                    status, headers, text = failure
                    self._send(status, text, headers)
                    return
                if not standin.authorized(self.headers):
                    self._send(401, json.dumps({"message": "Unauthorized"}))
                    return
                with standin.lock:
                    status, payload = standin.route(self.command, self.path, body)
                self._send(status, "" if payload is None else json.dumps(payload))

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.handler = Handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Take the CRM off the network (connections are refused), keeping its records."""
        self.server.shutdown()
        self.server.server_close()

    def start_again(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def __enter__(self) -> "StandIn":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def authorized(self, headers: Any) -> bool:
        raise TypeError("subclass responsibility")

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        raise TypeError("subclass responsibility")


class InsightlyStandIn(StandIn):
    """Insightly REST v3.1: basic auth with the API key as user name; /Leads, /LeadStatuses, /LeadSources."""

    API_KEY = "insightly-test-key"
    STATUSES = [{"LEAD_STATUS_ID": 1, "LEAD_STATUS": "NotContacted"}, {"LEAD_STATUS_ID": 2, "LEAD_STATUS": "Contacted"},
                {"LEAD_STATUS_ID": 3, "LEAD_STATUS": "Converted"}, {"LEAD_STATUS_ID": 4, "LEAD_STATUS": "Disqualified"}]
    SOURCES = [{"LEAD_SOURCE_ID": 7, "LEAD_SOURCE": "Web"}]

    def authorized(self, headers: Any) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.API_KEY}:".encode()).decode()
        return headers.get("Authorization") == expected

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        path = path.split("?")[0]
        if method == "GET" and path == "/v3.1/LeadStatuses":
            return 200, self.STATUSES
        if method == "GET" and path == "/v3.1/LeadSources":
            return 200, self.SOURCES
        if path == "/v3.1/Leads" and method in ("POST", "PUT"):
            if not isinstance(body, dict) or not body.get("LAST_NAME"):
                return 400, {"Message": "LAST_NAME is required"}
            if method == "PUT":
                lead_id = body.get("LEAD_ID")
                if lead_id not in self.records:
                    return 404, {"Message": "Lead not found"}
            else:
                lead_id = next(self.ids)
            self.records[lead_id] = {**body, "LEAD_ID": lead_id}
            return (201 if method == "POST" else 200), self.records[lead_id]
        match = re.fullmatch(r"/v3\.1/Leads/(\d+)", path)
        if match and method == "DELETE":
            return (202, None) if self.records.pop(int(match.group(1)), None) else (404, {"Message": "Not found"})
        return 404, {"Message": f"no route {method} {path}"}


class HubSpotStandIn(StandIn):
    """HubSpot CRM v3 contacts with a private-app bearer token; 409 with "Existing ID" for a taken e-mail."""

    TOKEN = "pat-test-token"

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization") == f"Bearer {self.TOKEN}"

    def route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/crm/v3/objects/contacts":
            email = (body.get("properties") or {}).get("email")
            for contact_id, record in self.records.items():
                if email and record["properties"].get("email") == email:
                    return 409, {"status": "error", "category": "CONFLICT",
                                 "message": f"Contact already exists. Existing ID: {contact_id}"}
            contact_id = next(self.ids)
            self.records[contact_id] = {"id": str(contact_id), "properties": dict(body["properties"])}
            return 201, self.records[contact_id]
        match = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", path)
        if match:
            contact_id = int(match.group(1))
            if contact_id not in self.records:
                return 404, {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found"}
            if method == "PATCH":
                self.records[contact_id]["properties"].update(body["properties"])
                return 200, self.records[contact_id]
            if method == "DELETE":
                del self.records[contact_id]
                return 204, None
        return 404, {"status": "error", "message": f"no route {method} {path}"}
