"""Local stand-ins of the providers' HTTP APIs, for the delivery contract tests.

Each stand-in is a real HTTP server on 127.0.0.1 (stdlib ``ThreadingHTTPServer`` in a thread) that checks the
vendor's authentication and answers in the vendor's documented request/response format. Like the SMTP sink,
recipients pick the outcome: an e-mail local part starting with ``reject`` (a phone number ending ``0001``) gets
the vendor's permanent "invalid recipient" error, ``throttle``/``defer`` (``0429``) its 429 throttling answer.
``accepted`` holds what each stand-in accepted, in order.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

Answer = tuple[int, dict[str, str], bytes]


def _json(status: int, payload: Any, **headers: str) -> Answer:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(payload).encode()


def _outcome(recipient: str) -> str:
    local = recipient.partition("@")[0].lower().strip("<> ")
    digits = recipient.strip()
    if local.startswith("reject") or (digits.startswith("+") and digits.endswith("0001")):
        return "reject"
    if local.startswith(("throttle", "defer")) or (digits.startswith("+") and digits.endswith("0429")):
        return "throttle"
    return "ok"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StandIn:
    """A running stand-in: ``url`` is its base URL; ``accepted`` the messages it accepted (recipient, payload)."""

    name: str
    route: Callable[[StandIn, Request], Answer]
    accepted: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                  self.rfile.read(length))
                standin.requests.append(request)
                status, headers, body = standin.route(standin, request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _basic(request: Request) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        return "", ""
    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    return user, password


def _form(request: Request) -> dict[str, Any]:
    """A form body, URL-encoded or multipart (the vendors accept both; clients send multipart with attachments)."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/"):
        form = BytesParser(policy=default_policy).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body)
        return {part.get_param("name", header="content-disposition"): part.get_content()
                for part in form.iter_parts()}
    return {name: values[0] for name, values in parse_qs(request.body.decode()).items()}


# --- SendGrid v3: POST /v3/mail/send, Bearer key, 202 with an empty body ------------------------------------------

def sendgrid(standin: StandIn, request: Request, key: str = "SG.test-key") -> Answer:
    if request.path != "/v3/mail/send":
        return _json(404, {"errors": [{"message": "not found"}]})
    if request.headers.get("authorization") != f"Bearer {key}":
        return _json(401, {"errors": [{"field": None, "message": "The provided authorization grant is invalid"}]})
    payload = json.loads(request.body)
    recipient = payload["personalizations"][0]["to"][0]["email"]
    outcome = _outcome(recipient)
    if outcome == "reject":
        return _json(400, {"errors": [{"message": "Does not contain a valid address.",
                                       "field": "personalizations.0.to.0.email"}]})
    if outcome == "throttle":
        return _json(429, {"errors": [{"field": None, "message": "too many requests"}]}, **{"Retry-After": "2"})
    standin.accepted.append((recipient, payload))
    return 202, {"X-Message-Id": uuid.uuid4().hex[:22]}, b""


# --- Mailgun: POST /v3/<domain>/messages, basic auth api:<key>, multipart form --------------------------------------

def mailgun(standin: StandIn, request: Request, key: str = "mg-test-key", domain: str = "mg.acme.test") -> Answer:
    if request.path != f"/v3/{domain}/messages":
        return _json(404, {"message": "Domain not found"})
    if _basic(request) != ("api", key):
        return 401, {"Content-Type": "text/plain"}, b"Forbidden"
    fields = _form(request)
    recipient = str(fields.get("to", ""))
    outcome = _outcome(recipient)
    if outcome == "reject":
        return _json(400, {"message": "to parameter is not a valid address. please check documentation"})
    if outcome == "throttle":
        return _json(429, {"message": "Too many requests"}, **{"Retry-After": "2"})
    standin.accepted.append((recipient, fields))
    return _json(200, {"id": f"<{uuid.uuid4().hex}@{domain}>", "message": "Queued. Thank you."})


# --- Postmark: POST /email, X-Postmark-Server-Token ------------------------------------------------------------------

def postmark(standin: StandIn, request: Request, token: str = "pm-test-token") -> Answer:
    if request.path != "/email":
        return _json(404, {"ErrorCode": 404, "Message": "Not found"})
    if request.headers.get("x-postmark-server-token") != token:
        return _json(401, {"ErrorCode": 10, "Message": "No Account or Server API tokens were supplied."})
    payload = json.loads(request.body)
    recipient = payload["To"]
    outcome = _outcome(recipient)
    if outcome == "reject":
        return _json(422, {"ErrorCode": 300, "Message": f"Invalid 'To' address: '{recipient}'."})
    if outcome == "throttle":
        return _json(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, **{"Retry-After": "2"})
    standin.accepted.append((recipient, payload))
    return _json(200, {"To": recipient, "SubmittedAt": "2026-11-22T03:00:00.0000000-05:00",
                       "MessageID": str(uuid.uuid4()), "ErrorCode": 0, "Message": "OK"})


# --- Amazon SES v2: POST /v2/email/outbound-emails, SigV4, raw MIME -------------------------------------------------

def ses(standin: StandIn, request: Request, access_key: str = "AKIATESTKEY") -> Answer:
    if request.path != "/v2/email/outbound-emails":
        return _json(404, {"message": "not found"}, **{"x-amzn-ErrorType": "NotFoundException"})
    if not request.headers.get("authorization", "").startswith(f"AWS4-HMAC-SHA256 Credential={access_key}/"):
        return _json(403, {"message": "The security token included in the request is invalid."},
                     **{"x-amzn-ErrorType": "UnrecognizedClientException"})
    payload = json.loads(request.body)
    recipient = payload["Destination"]["ToAddresses"][0]
    outcome = _outcome(recipient)
    if outcome == "reject":
        return _json(400, {"message": "Email address is not verified."}, **{"x-amzn-ErrorType": "MessageRejected"})
    if outcome == "throttle":
        return _json(429, {"message": "Maximum sending rate exceeded."},
                     **{"x-amzn-ErrorType": "TooManyRequestsException"})
    raw = base64.b64decode(payload["Content"]["Raw"]["Data"])
    standin.accepted.append((recipient, raw))
    return _json(200, {"MessageId": f"0100{uuid.uuid4().hex}-000000"})


# --- Twilio: POST /2010-04-01/Accounts/<sid>/Messages.json, basic auth sid:token, form body --------------------------

def twilio(standin: StandIn, request: Request, sid: str = "ACtest", token: str = "twilio-token") -> Answer:
    if request.path != f"/2010-04-01/Accounts/{sid}/Messages.json":
        return _json(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
    if _basic(request) != (sid, token):
        return _json(401, {"code": 20003, "message": "Authenticate", "status": 401})
    fields = _form(request)
    recipient = fields.get("To", "")
    outcome = _outcome(recipient)
    if outcome == "reject":
        return _json(400, {"code": 21211, "message": f"The 'To' number {recipient} is not a valid phone number.",
                           "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})
    if outcome == "throttle":
        return _json(429, {"code": 20429, "message": "Too Many Requests", "status": 429})
    standin.accepted.append((recipient, fields))
    return _json(201, {"sid": f"SM{uuid.uuid4().hex}", "status": "queued", "to": recipient, "from": fields["From"],
                       "body": fields["Body"], "num_segments": "1"})


# --- Generic HTTP SMS: POST /sms, JSON, an auth header --------------------------------------------------------------

def http_sms(standin: StandIn, request: Request, auth: str = "Bearer sms-test-key") -> Answer:
    if request.headers.get("authorization") != auth:
        return _json(401, {"error": "unauthorized"})
    payload = json.loads(request.body)
    outcome = _outcome(payload["to"])
    if outcome == "reject":
        return _json(422, {"error": "invalid number"})
    if outcome == "throttle":
        return _json(429, {"error": "slow down"}, **{"Retry-After": "2"})
    standin.accepted.append((payload["to"], payload))
    return _json(200, {"id": f"msg-{uuid.uuid4().hex[:12]}"})


ROUTES: dict[str, Callable[[StandIn, Request], Answer]] = {
    "sendgrid": sendgrid, "mailgun": mailgun, "postmark": postmark, "ses": ses, "twilio": twilio, "http": http_sms,
}


def standin_start(name: str) -> StandIn:
    return StandIn(name=name, route=ROUTES[name]).start()
