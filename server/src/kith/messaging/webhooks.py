"""Provider webhooks: e-mail tracking events through anymail's views, and Twilio's SMS status callbacks.

For e-mail, anymail's own tracking view classes verify the request (HTTP basic auth from
``KITH_WEBHOOK_BASIC_AUTH``; Mailgun's HMAC signature; SendGrid's signed events when a verification key is set)
and normalize the provider's payload. We call them directly instead of through anymail's ``tracking`` signal, so
the events go straight to ``message_event_record`` and a failure is an HTTP error the provider retries.

Every refusal is a 4xx and changes nothing: webhooks not configured or a wrong password/signature → 401 (logged),
a payload that cannot be parsed → 400. No login or CSRF: the credentials are the authority.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from typing import Any

from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.webhooks.amazon_ses import AmazonSESTrackingWebhookView
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from anymail.webhooks.postmark import PostmarkTrackingWebhookView
from anymail.webhooks.sendgrid import SendGridTrackingWebhookView
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kith.messaging.events import EventKind, ProviderEvent, message_event_record

logger = logging.getLogger("kith.messaging")

TRACKING_VIEWS: dict[str, type[Any]] = {
    "ses": AmazonSESTrackingWebhookView, "sendgrid": SendGridTrackingWebhookView,
    "mailgun": MailgunTrackingWebhookView, "postmark": PostmarkTrackingWebhookView,
}
# anymail's normalized event types → ours; the rest (queued, sent, autoresponded, unknown) change nothing.
_ANYMAIL_KINDS = {"delivered": EventKind.DELIVERED, "deferred": EventKind.DEFERRED, "bounced": EventKind.BOUNCED,
                  "complained": EventKind.COMPLAINED, "rejected": EventKind.FAILED, "failed": EventKind.FAILED,
                  "opened": EventKind.OPENED, "clicked": EventKind.CLICKED, "unsubscribed": EventKind.UNSUBSCRIBED}
# Parsing errors of a malformed payload inside anymail's parsers.
_PAYLOAD_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, AnymailError)


def _refuse(provider: str, reason: str) -> HttpResponse:
    logger.warning("webhook refused", extra={"provider": provider, "reason": reason})
    response = HttpResponse("Unauthorized", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Basic realm="kith-webhooks"'
    return response


def _event(anymail_event: Any, provider: str) -> ProviderEvent | None:
    kind = _ANYMAIL_KINDS.get(anymail_event.event_type)
    if kind is None or not anymail_event.message_id:
        return None
    description = " — ".join(str(part) for part in (anymail_event.description, anymail_event.mta_response) if part) \
        or anymail_event.reject_reason or ""
    return ProviderEvent(kind=kind, provider=provider, provider_message_id=str(anymail_event.message_id),
                         hard=_is_hard(anymail_event), description=str(description),
                         occurred_at=anymail_event.timestamp)


def _is_hard(anymail_event: Any) -> bool:
    """Whether a bounce means the address is bad. anymail reports Postmark's soft bounces and SES's transient
    bounces as ``bounced`` too; their raw event says which they were."""
    raw = anymail_event.esp_event if isinstance(anymail_event.esp_event, dict) else {}
    if raw.get("Type") in ("SoftBounce", "Transient", "DnsError"):
        return False
    if raw.get("bounce", {}).get("bounceType") in ("Transient", "Undetermined"):
        return False
    return anymail_event.reject_reason != "timed_out"


@csrf_exempt
@require_POST
def email_tracking(request: HttpRequest, provider: str) -> HttpResponse:
    if not settings.KITH_WEBHOOK_BASIC_AUTH:
        return _refuse(provider, "KITH_WEBHOOK_BASIC_AUTH is not set")
    try:
        view = TRACKING_VIEWS[provider]()
        view.run_validators(request)
    except ImproperlyConfigured as exc:  # e.g. Mailgun without a signing key
        return _refuse(provider, str(exc))
    except AnymailWebhookValidationFailure as exc:
        return _refuse(provider, str(exc))
    except AnymailError as exc:  # a request that is not a webhook of this provider at all (SES: unknown SNS type)
        logger.warning("webhook request not understood", extra={"provider": provider, "error": str(exc)[:500]})
        return HttpResponse("Bad request", status=400, content_type="text/plain")
    try:
        events = view.parse_events(request)
    except _PAYLOAD_ERRORS as exc:
        logger.warning("webhook payload not understood", extra={"provider": provider, "error": str(exc)[:500]})
        return HttpResponse("Bad request", status=400, content_type="text/plain")
    for anymail_event in events:
        event = _event(anymail_event, provider)
        if event is not None:
            message_event_record(event=event)
    return HttpResponse("OK", content_type="text/plain")


# Twilio error codes that mean the number itself cannot receive our messages (invalid, landline, unknown,
# unsubscribed with STOP): the number is suppressed. Other failures (carrier trouble, unreachable handset) are not.
TWILIO_HARD_ERRORS = frozenset({"21211", "21610", "21614", "30005", "30006"})
_TWILIO_KINDS = {"delivered": EventKind.DELIVERED, "undelivered": EventKind.BOUNCED, "failed": EventKind.BOUNCED}


def twilio_signature(*, url: str, params: dict[str, str], auth_token: str) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST parameter's name and value,
    sorted by name."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    token = settings.KITH_TWILIO_AUTH_TOKEN
    if not token:
        return _refuse("twilio", "KITH_TWILIO_AUTH_TOKEN is not set")
    params = {name: request.POST.get(name, "") for name in request.POST}
    # The URL Twilio signed is the callback URL we gave it, built from KITH_BASE_URL (a proxy may change the scheme
    # or host Django sees).
    url = f"{settings.KITH_BASE_URL}{request.get_full_path()}"
    expected = twilio_signature(url=url, params=params, auth_token=token)
    if not hmac.compare_digest(expected, request.headers.get("X-Twilio-Signature", "")):
        return _refuse("twilio", "bad X-Twilio-Signature")
    kind = _TWILIO_KINDS.get(params.get("MessageStatus", ""))
    sid = params.get("MessageSid", "")
    if kind is not None and sid:
        error = params.get("ErrorCode", "")
        message_event_record(event=ProviderEvent(
            kind=kind, provider="twilio", provider_message_id=sid, hard=error in TWILIO_HARD_ERRORS,
            description=f"Twilio error {error}" if error else ""))
    return HttpResponse("", content_type="text/plain")
