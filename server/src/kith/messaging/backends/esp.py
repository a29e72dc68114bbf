"""E-mail service providers through django-anymail: Amazon SES, SendGrid, Mailgun, Postmark.

Kith builds the finished message itself (``preparation.message_build``); these backends turn those wire bytes back
into a Django ``EmailMessage`` (subject, From, the text and HTML parts, and every other header such as Message-ID
and List-Unsubscribe) and hand it to the anymail backend of the provider. One anymail backend instance stays open
between ``open`` and ``close``, so its HTTP session (or boto3 client) is reused across a batch.

Credentials and API URLs come from the environment (``KITH_SES_*``, ``KITH_SENDGRID_*``, ``KITH_MAILGUN_*``,
``KITH_POSTMARK_*``); the API URL setting exists so tests can point a backend at a local stand-in of the vendor's
HTTP API (``tests/standins``).

How provider answers map onto the contract (see ``backends/__init__``): HTTP 429 and 5xx, and connection trouble,
are transient (the provider is throttling or down; the ledger retries a bounded number of times, honouring
``Retry-After``); any other 4xx (invalid address, inactive recipient, bad sender) and a recipient the provider
reports as rejected or invalid are permanent. Anymail's own retries are off: the ledger owns retrying.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Sequence
from email.message import EmailMessage as ParsedMessage
from typing import Any, ClassVar

from anymail.backends.amazon_ses import EmailBackend as SesAnymailBackend
from anymail.backends.mailgun import EmailBackend as MailgunAnymailBackend
from anymail.backends.postmark import EmailBackend as PostmarkAnymailBackend
from anymail.backends.sendgrid import EmailBackend as SendGridAnymailBackend
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives

from kith.messaging.backends.base import (
    BaseEmailBackend,
    OutgoingEmail,
    ResultKind,
    SendResult,
)

# Rebuilt by Django from the EmailMessage's own fields, so they are not copied over as extra headers.
_OWN_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "content-type", "content-transfer-encoding",
                          "mime-version"})
# Provider error codes that mean "slow down" whatever the HTTP status says (SES answers throttling with 400).
_THROTTLE_CODES = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException",
                             "LimitExceededException"})
# Answers that mean the provider itself is unwell or busy: try again later.
_TRANSIENT_STATUS = frozenset({408, 429})


def email_message_from_wire(outgoing: OutgoingEmail) -> EmailMultiAlternatives:
    """The Django message equivalent to ``outgoing.wire``: same subject, sender, parts and extra headers."""
    parsed: ParsedMessage = email.message_from_bytes(outgoing.wire, policy=email.policy.default)  # type: ignore[assignment]
    text_part = parsed.get_body(("plain",))
    html_part = parsed.get_body(("html",))
    headers = {name: str(value) for name, value in parsed.items() if name.lower() not in _OWN_HEADERS}
    text = text_part.get_content() if text_part is not None else ""  # type: ignore[union-attr]
    html = html_part.get_content() if html_part is not None else ""  # type: ignore[union-attr]
    message = EmailMultiAlternatives(subject=str(parsed["Subject"] or ""), body=text or html,
                                     from_email=str(parsed["From"]), to=list(outgoing.recipients), headers=headers)
    if text and html:
        message.attach_alternative(html, "text/html")
    elif html:
        message.content_subtype = "html"
    return message


def _retry_after(response: Any) -> float | None:
    headers = getattr(response, "headers", None) or {}
    try:
        return float(headers.get("Retry-After", "")) if headers.get("Retry-After") else None
    except ValueError:
        return None


def result_from_error(exc: AnymailError) -> SendResult:
    """Classify an anymail failure (requests-based ESPs carry an HTTP response; SES a botocore error dict)."""
    text = str(exc)[:1000]
    if isinstance(exc, AnymailRecipientsRefused):
        return SendResult(kind=ResultKind.PERMANENT, error=text)
    response = exc.response
    status = exc.status_code
    code = ""
    if isinstance(response, dict):  # botocore ClientError.response
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = response.get("Error", {}).get("Code", "")
    if status is None or status >= 500 or status in _TRANSIENT_STATUS or code in _THROTTLE_CODES:
        return SendResult(kind=ResultKind.TRANSIENT, error=text, retry_after=_retry_after(response))
    return SendResult(kind=ResultKind.PERMANENT, error=text)


class AnymailEmailBackend(BaseEmailBackend):
    """Base of the ESP backends. Subclasses name the anymail backend class and its keyword settings."""

    anymail_class: ClassVar[type[Any]]
    # Settings that must be non-empty; without them every message fails permanently instead of being retried.
    required_settings: ClassVar[tuple[str, ...]] = ()

    def anymail_kwargs(self) -> dict[str, Any]:
        """Keyword settings for the anymail backend (credentials, API URL), read from Django settings."""
        raise TypeError(f"{type(self).__name__} must define anymail_kwargs()")

    def __init__(self) -> None:
        self.connection: Any = None
        # Settings as of construction: a kept instance is compared with a fresh one to see if they changed.
        self.key = (self.alias, repr(sorted(self.anymail_kwargs().items())))

    def reuse_key(self) -> tuple[object, ...] | None:
        return self.key

    def open(self) -> None:
        if self.connection is None:
            self.connection = self.anymail_class(fail_silently=False, **self.anymail_kwargs())
            self.connection.open()

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()

    def send_many(self, messages: Sequence[OutgoingEmail]) -> list[SendResult]:
        return [self._send_one(message) for message in messages]

    def _send_one(self, outgoing: OutgoingEmail) -> SendResult:
        missing = [name for name in self.required_settings if not getattr(settings, name)]
        if missing:
            return SendResult(kind=ResultKind.PERMANENT,
                              error=f"{self.alias} is not configured on this server: set {', '.join(missing)}.")
        message = email_message_from_wire(outgoing)
        try:
            self.open()
            self.connection.send_messages([message])
        except AnymailError as exc:
            return result_from_error(exc)
        except ImproperlyConfigured as exc:  # missing credentials: retrying cannot help
            return SendResult(kind=ResultKind.PERMANENT, error=f"{self.alias} is not configured: {exc}"[:1000])
        except Exception as exc:  # noqa: BLE001 — anything else (boto3 endpoint errors) is reported, not raised
            return SendResult(kind=ResultKind.TRANSIENT, error=f"{type(exc).__name__}: {exc}"[:1000])
        status = message.anymail_status  # type: ignore[attr-defined]
        refused = {"rejected", "invalid", "failed"}
        if status.status and status.status <= refused:
            return SendResult(kind=ResultKind.PERMANENT, error=f"Provider refused the recipient: {status.status}")
        provider_id = status.message_id if isinstance(status.message_id, str) else ",".join(
            sorted(str(part) for part in status.message_id or ()))
        return SendResult(kind=ResultKind.SENT, provider_message_id=provider_id or "")


def _url(value: str) -> dict[str, str]:
    return {"api_url": value} if value else {}


class SendGridBackend(AnymailEmailBackend):
    alias = "sendgrid"
    anymail_class = SendGridAnymailBackend
    required_settings = ("KITH_SENDGRID_API_KEY",)

    def anymail_kwargs(self) -> dict[str, Any]:
        return {"api_key": settings.KITH_SENDGRID_API_KEY, **_url(settings.KITH_SENDGRID_API_URL)}


class MailgunBackend(AnymailEmailBackend):
    alias = "mailgun"
    anymail_class = MailgunAnymailBackend
    required_settings = ("KITH_MAILGUN_API_KEY",)

    def anymail_kwargs(self) -> dict[str, Any]:
        kwargs = {"api_key": settings.KITH_MAILGUN_API_KEY, **_url(settings.KITH_MAILGUN_API_URL)}
        if settings.KITH_MAILGUN_DOMAIN:
            kwargs["sender_domain"] = settings.KITH_MAILGUN_DOMAIN
        return kwargs


class PostmarkBackend(AnymailEmailBackend):
    alias = "postmark"
    anymail_class = PostmarkAnymailBackend
    required_settings = ("KITH_POSTMARK_SERVER_TOKEN",)

    def anymail_kwargs(self) -> dict[str, Any]:
        return {"server_token": settings.KITH_POSTMARK_SERVER_TOKEN, **_url(settings.KITH_POSTMARK_API_URL)}


class SesBackend(AnymailEmailBackend):
    alias = "ses"
    anymail_class = SesAnymailBackend

    def anymail_kwargs(self) -> dict[str, Any]:
        session: dict[str, str] = {"region_name": settings.KITH_SES_REGION}
        if settings.KITH_SES_ACCESS_KEY_ID:
            session |= {"aws_access_key_id": settings.KITH_SES_ACCESS_KEY_ID,
                        "aws_secret_access_key": settings.KITH_SES_SECRET_ACCESS_KEY}
        # botocore retries throttling by itself; one attempt here, the ledger schedules the next.
        client: dict[str, Any] = {"config": {"retries": {"total_max_attempts": 1, "mode": "standard"},
                                             "connect_timeout": 10, "read_timeout": 30}}
        if settings.KITH_SES_ENDPOINT_URL:
            client["endpoint_url"] = settings.KITH_SES_ENDPOINT_URL
        kwargs: dict[str, Any] = {"session_params": session, "client_params": client}
        if settings.KITH_SES_CONFIGURATION_SET:
            kwargs["configuration_set_name"] = settings.KITH_SES_CONFIGURATION_SET
        return kwargs
