"""SMS delivery backends: Twilio's Messages API and a generic HTTP provider, over plain HTTP (httpx).

The contract mirrors the e-mail one: ``send_many`` returns one ``SendResult`` per message, in order, and never
raises for a per-message or connection failure. HTTP 429 and 5xx and connection trouble are transient (with
``Retry-After`` when given), any other 4xx is permanent (an invalid or unreachable number). One ``httpx.Client``
serves every message between ``open`` and ``close``, so connections are reused.

Configured from the environment: ``KITH_TWILIO_ACCOUNT_SID``, ``KITH_TWILIO_AUTH_TOKEN``, ``KITH_TWILIO_API_URL``;
``KITH_SMS_HTTP_URL``, ``KITH_SMS_HTTP_AUTH_HEADER``. Subclasses implement ``_request`` (the HTTP call for one
message) and ``_provider_id`` (the provider's id in a successful answer).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
from django.conf import settings

from kith.messaging.backends.base import ResultKind, SendResult

# Long enough for a provider under load, short enough that a dead one does not hold a worker.
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class OutgoingSms:
    message_id: int
    to: str  # E.164
    sender: str
    body: str
    status_callback: str = ""


def result_from_response(response: httpx.Response, provider_id: str) -> SendResult:
    if 200 <= response.status_code < 300:
        return SendResult(kind=ResultKind.SENT, provider_message_id=provider_id[:255])
    error = f"{response.status_code} {response.text[:900]}"
    if response.status_code in (408, 429) or response.status_code >= 500:
        retry_after = response.headers.get("Retry-After", "")
        return SendResult(kind=ResultKind.TRANSIENT, error=error,
                          retry_after=float(retry_after) if retry_after.isdigit() else None)
    return SendResult(kind=ResultKind.PERMANENT, error=error)


class BaseSmsBackend(abc.ABC):
    alias = ""

    def __init__(self) -> None:
        self.client: httpx.Client | None = None

    def open(self) -> None:
        if self.client is None:
            self.client = httpx.Client(timeout=TIMEOUT_SECONDS)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @abc.abstractmethod
    def _request(self, client: httpx.Client, message: OutgoingSms) -> httpx.Response:
        """Make the provider's HTTP request for one message."""

    @abc.abstractmethod
    def _provider_id(self, payload: Any) -> str:
        """The provider's message id in a successful JSON answer."""

    def configured(self) -> bool:
        """Whether the environment holds what this provider needs; without it every message fails permanently."""
        return True

    def send_many(self, messages: Sequence[OutgoingSms]) -> list[SendResult]:
        if not self.configured():
            return [SendResult(kind=ResultKind.PERMANENT, error=f"The {self.alias} SMS provider is not configured "
                                                                 "on this server.")] * len(messages)
        self.open()
        assert self.client is not None
        results = []
        for message in messages:
            try:
                response = self._request(self.client, message)
            except httpx.HTTPError as exc:
                results.append(SendResult(kind=ResultKind.TRANSIENT, error=f"SMS provider unreachable: {exc}"))
                continue
            provider_id = ""
            if 200 <= response.status_code < 300:
                try:
                    provider_id = str(self._provider_id(response.json()) or "")
                except ValueError:
                    provider_id = ""
            results.append(result_from_response(response, provider_id))
        return results


class TwilioBackend(BaseSmsBackend):
    """Twilio Programmable Messaging: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth."""

    alias = "twilio"

    def configured(self) -> bool:
        return bool(settings.KITH_TWILIO_ACCOUNT_SID and settings.KITH_TWILIO_AUTH_TOKEN)

    def _request(self, client: httpx.Client, message: OutgoingSms) -> httpx.Response:
        sid = settings.KITH_TWILIO_ACCOUNT_SID
        data = {"To": message.to, "From": message.sender, "Body": message.body}
        if message.status_callback:
            data["StatusCallback"] = message.status_callback
        return client.post(f"{settings.KITH_TWILIO_API_URL.rstrip('/')}/2010-04-01/Accounts/{sid}/Messages.json",
                           data=data, auth=(sid, settings.KITH_TWILIO_AUTH_TOKEN))

    def _provider_id(self, payload: Any) -> str:
        return payload.get("sid", "") if isinstance(payload, dict) else ""


class HttpSmsBackend(BaseSmsBackend):
    """Any provider that takes ``POST <KITH_SMS_HTTP_URL>`` with a JSON body
    ``{"to", "from", "body", "reference", "status_callback"}`` and answers 2xx with ``{"id": …}``.
    ``KITH_SMS_HTTP_AUTH_HEADER`` (``Name: value``) authenticates. The ``Idempotency-Key`` header carries the
    ledger id, so a provider that honours it drops a duplicate after a crash."""

    alias = "http"

    def configured(self) -> bool:
        return bool(settings.KITH_SMS_HTTP_URL)

    def _request(self, client: httpx.Client, message: OutgoingSms) -> httpx.Response:
        headers = {"Idempotency-Key": f"kith-message-{message.message_id}"}
        name, _, value = settings.KITH_SMS_HTTP_AUTH_HEADER.partition(":")
        if name.strip() and value.strip():
            headers[name.strip()] = value.strip()
        body = {"to": message.to, "from": message.sender, "body": message.body,
                "reference": str(message.message_id), "status_callback": message.status_callback}
        return client.post(settings.KITH_SMS_HTTP_URL, json=body, headers=headers)

    def _provider_id(self, payload: Any) -> str:
        return payload.get("id", "") if isinstance(payload, dict) else ""
