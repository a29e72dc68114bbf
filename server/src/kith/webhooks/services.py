"""Writes of outgoing webhooks: endpoints (create, update, rotate, delete), emitting events, delivery attempts,
replay. Network I/O happens only in ``webhook_delivery_attempt``, outside any transaction."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import random
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import urllib3
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from standardwebhooks.webhooks import Webhook

from kith.accounts.models import ADMIN_ROLES, Membership, Workspace
from kith.core import clock
from kith.core.audit import audit_record
from kith.core.errors import KithError
from kith.core.jobs import enqueue_on_commit, job, job_lease_extend
from kith.tasks.notifications import notification_create
from kith.webhooks import network
from kith.webhooks.errors import UnsafeWebhookUrl
from kith.webhooks.events import EVENT_TYPES, TEST_EVENT
from kith.webhooks.models import (
    ALL_EVENTS,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSettings,
)

logger = logging.getLogger(__name__)

# Attempts before a delivery is dead, and the wait after the n-th failure: 60 s, 2 min, 4 min, … doubling up to a
# 12 h ceiling, each spread ±20 % at random. Fifteen waits add up to about three days (2.6 to 3.9 days with the
# jitter; test_failing_endpoint_backs_off_with_jitter_over_about_three_days holds the bounds), enough to ride out a
# receiver's weekend outage. The jitter keeps deliveries that failed together (one outage) from retrying in lockstep
# and hitting the receiver in bursts when it comes back.
MAX_ATTEMPTS = 16
BACKOFF_BASE_SECONDS = 60
BACKOFF_CAP_SECONDS = 12 * 3600
BACKOFF_JITTER = 0.2
# Sustained failure: a delivery used up its whole retry schedule while the endpoint failed every attempt (of all its
# deliveries, none succeeded) for at least this long. The endpoint is then disabled and the workspace's owners and
# admins are notified. Shorter than the shortest schedule (2.6 days), so the first delivery that dies on an
# endpoint failing throughout disables it; a receiver that rejects one payload but takes others is never disabled
# (its successes reset the streak), and one that was down for a weekend still gets everything.
DISABLE_AFTER = dt.timedelta(days=2)
DISABLED_NOTIFICATION_KIND = "webhook_disabled"
# How long a running attempt holds its row: longer than connect + read timeouts, so the sweeper never starts a
# second attempt beside a live one, yet a worker that died mid-attempt is retried within minutes.
ATTEMPT_LEASE = dt.timedelta(seconds=120)
SWEEP_BATCH = 1000


def secret_generate() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id_generate() -> str:
    return "msg_" + secrets.token_urlsafe(18)


def backoff_ceiling(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt before jitter."""
    exponent = min(attempts - 1, 30)  # bounded so a huge attempt count cannot overflow
    return dt.timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** exponent, BACKOFF_CAP_SECONDS))


def backoff(attempts: int) -> dt.timedelta:
    """The wait after the ``attempts``-th failed attempt: the ceiling, spread by ±``BACKOFF_JITTER``."""
    return backoff_ceiling(attempts) * (1 + BACKOFF_JITTER * (2 * random.random() - 1))


def private_addresses_allowed(*, workspace_id: int) -> bool:
    """The workspace's "allow private addresses" setting (the install-wide switch is checked by the guard)."""
    return WebhookSettings.objects.filter(workspace_id=workspace_id, allow_private_addresses=True).exists()


def webhook_settings_update(*, workspace: Workspace, actor: Any, allow_private_addresses: bool) -> WebhookSettings:
    """Change the workspace's webhook settings (audited: lifting the SSRF rule is a security decision)."""
    with transaction.atomic():
        row, _ = WebhookSettings.objects.select_for_update().get_or_create(workspace=workspace)
        before = {"allow_private_addresses": row.allow_private_addresses}
        row.allow_private_addresses = allow_private_addresses
        row.save(update_fields=["allow_private_addresses", "updated_at"])
        audit_record(action="webhook_settings.updated", actor=actor, workspace=workspace, target=row,
                     before=before, after={"allow_private_addresses": allow_private_addresses})
    return row


def _event_types(values: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(values))
    if not chosen:
        raise KithError("Choose at least one event type.", field="event_types")
    if ALL_EVENTS in chosen:
        return [ALL_EVENTS]
    unknown = [value for value in chosen if value not in EVENT_TYPES]
    if unknown:
        raise KithError(f"Unknown event type: {unknown[0]}.", field="event_types")
    return chosen


def webhook_endpoint_create(
    *, workspace: Workspace, actor: Any, url: str, event_types: Sequence[str], description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """Create an endpoint with a fresh secret (the caller shows ``endpoint.secret`` once). Raises
    ``UnsafeWebhookUrl`` for a URL webhooks must not reach, ``KithError`` for bad event types."""
    # DNS lookup: before the transaction, not inside it
    network.url_resolve(url, allow_private=private_addresses_allowed(workspace_id=workspace.pk))
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(workspace=workspace, url=url, description=description,
                                                  event_types=_event_types(event_types), secret=secret_generate(),
                                                  is_active=is_active)
        audit_record(action="webhook_endpoint.created", actor=actor, workspace=workspace, target=endpoint,
                     after={"url": url, "event_types": endpoint.event_types})
    return endpoint


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, actor: Any, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change ``url``, ``description``, ``event_types`` and/or ``is_active``; a new URL is vetted like on create.
    Turning an endpoint on again (after Kith disabled it, say) starts its failure count afresh."""
    if "url" in changes and changes["url"] != endpoint.url:
        network.url_resolve(changes["url"], allow_private=private_addresses_allowed(workspace_id=endpoint.workspace_id))
    values = dict(changes)
    if "event_types" in values:
        values["event_types"] = _event_types(values["event_types"])
    resets = {"disabled_at": None, "disabled_reason": "", "failing_since": None} \
        if values.get("is_active") and not endpoint.is_active else {}
    with transaction.atomic():
        before = {name: getattr(endpoint, name) for name in values}
        for name, value in {**values, **resets}.items():
            setattr(endpoint, name, value)
        endpoint.save(update_fields=[*values, *resets, "updated_at"])
        audit_record(action="webhook_endpoint.updated", actor=actor, workspace=endpoint.workspace, target=endpoint,
                     before=before, after=values)
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: Any) -> WebhookEndpoint:
    """Replace the signing secret at once; deliveries from now on (retries included) are signed with the new one."""
    endpoint.secret = secret_generate()
    endpoint.save(update_fields=["secret", "updated_at"])
    audit_record(action="webhook_endpoint.secret_rotated", actor=actor, workspace=endpoint.workspace,
                 target=endpoint)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Any) -> None:
    """Delete the endpoint and its delivery log."""
    audit_record(action="webhook_endpoint.deleted", actor=actor, workspace=endpoint.workspace, target=endpoint,
                 before={"url": endpoint.url})
    endpoint.delete()


def _deliveries_create(endpoints: Sequence[WebhookEndpoint], *, event_type: str, data: Mapping[str, Any],
                       replay_of: WebhookDelivery | None = None) -> list[WebhookDelivery]:
    now = clock.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": dict(data)}
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(workspace_id=endpoint.workspace_id, endpoint=endpoint, event_type=event_type,
                        payload=payload, message_id=message_id_generate(), next_attempt_at=now,
                        replay_of=replay_of)
        for endpoint in endpoints
    ])
    for row in rows:
        enqueue_on_commit(webhook_delivery_task, delivery_id=row.pk)
    return rows


@transaction.atomic
def webhook_emit(*, workspace: Workspace, event_type: str, data: Mapping[str, Any]) -> list[WebhookDelivery]:
    """Queue ``event_type`` with JSON-serializable ``data`` for every active endpoint of ``workspace`` that
    subscribes to it: one query for the endpoints, one INSERT for the deliveries, and one job per delivery after
    the caller's transaction commits (so a rolled-back change sends nothing, and a slow endpoint delays only its
    own job)."""
    endpoints = [endpoint for endpoint in WebhookEndpoint.objects.filter(workspace=workspace, is_active=True)
                 if endpoint.subscribes(event_type)]
    if not endpoints:
        return []
    return _deliveries_create(endpoints, event_type=event_type, data=data)


@transaction.atomic(savepoint=False)  # inside the caller's transaction: no savepoint round trips per bulk write
def webhook_emit_many(
    *, workspace: Workspace, events: Sequence[tuple[str, Mapping[str, Any]]],
) -> list[WebhookDelivery]:
    """Queue many events of one set-based write (a bulk upsert, an events chunk) at once: one query for the
    endpoints, one INSERT for every delivery, and after commit **one job per endpoint** carrying that endpoint's
    deliveries of the batch in event order (``webhook_delivery_batch_task``) — not one job per row. Each delivery
    keeps its own row, message id, claim, retries and replay exactly as ``webhook_emit``'s, so a receiver cannot
    tell a bulk write's events from single writes'; a slow receiver still delays only its own job."""
    return webhook_emit_across(events=[(workspace.pk, event_type, data) for event_type, data in events])


@transaction.atomic(savepoint=False)
def webhook_emit_across(*, events: Sequence[tuple[int, str, Mapping[str, Any]]]) -> list[WebhookDelivery]:
    """``webhook_emit_many`` for events of several workspaces (``(workspace_id, event_type, data)``), as the
    tracking fold produces them: still one query for the endpoints of all those workspaces and one INSERT."""
    if not events:
        return []
    workspace_ids = {workspace_id for workspace_id, _, _ in events}
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(workspace_id__in=workspace_ids, is_active=True):
        endpoints.setdefault(endpoint.workspace_id, []).append(endpoint)
    if not endpoints:
        return []
    now = clock.now()
    rows: list[WebhookDelivery] = []
    for workspace_id, event_type, data in events:
        subscribed = [endpoint for endpoint in endpoints.get(workspace_id, ()) if endpoint.subscribes(event_type)]
        if not subscribed:
            continue
        payload = {"type": event_type, "timestamp": now.isoformat(), "data": dict(data)}
        rows += [WebhookDelivery(workspace_id=workspace_id, endpoint=endpoint, event_type=event_type,
                                 payload=payload, message_id=message_id_generate(), next_attempt_at=now)
                 for endpoint in subscribed]
    if not rows:
        return []
    rows = WebhookDelivery.objects.bulk_create(rows)
    by_endpoint: dict[int, list[int]] = {}
    for row in rows:
        by_endpoint.setdefault(row.endpoint_id, []).append(row.pk)
    for delivery_ids in by_endpoint.values():
        enqueue_on_commit(webhook_delivery_batch_task, delivery_ids=delivery_ids)
    return rows


@transaction.atomic
def webhook_endpoint_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a ``webhook.test`` event to this endpoint only (active or not), to check the receiver."""
    return _deliveries_create([endpoint], event_type=TEST_EVENT, data={"endpoint": endpoint.pk})[0]


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, actor: Any) -> WebhookDelivery:
    """Send ``delivery``'s payload again as a new delivery (new message id, so a receiver that deduplicates still
    takes it; the original row keeps its own history)."""
    replay = WebhookDelivery.objects.create(
        workspace_id=delivery.workspace_id, endpoint_id=delivery.endpoint_id, event_type=delivery.event_type,
        payload=delivery.payload, message_id=message_id_generate(), next_attempt_at=clock.now(), replay_of=delivery)
    audit_record(action="webhook_delivery.replayed", actor=actor, workspace=delivery.workspace, target=replay,
                 after={"replay_of": delivery.message_id})
    enqueue_on_commit(webhook_delivery_task, delivery_id=replay.pk)
    return replay


def _claim(delivery_id: int, *, now: dt.datetime) -> WebhookDelivery | None:
    """Take the due attempt: one conditional UPDATE, so of two jobs ringing the same row only one sends."""
    due = Q(pk=delivery_id, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now)
    claimed = WebhookDelivery.objects.filter(due).update(attempts=F("attempts") + 1, last_attempt_at=now,
                                                         next_attempt_at=now + ATTEMPT_LEASE)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint__workspace").get(pk=delivery_id)


def signature_headers(*, secret: str, message_id: str, timestamp: dt.datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature "v1,<base64 HMAC>")."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, timestamp, body),
    }


def _send(delivery: WebhookDelivery, *, now: dt.datetime) -> tuple[int | None, str, str]:
    """One POST; returns (status code, body excerpt, error). Never raises for the receiver's or network's faults."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
    headers = {"Content-Type": "application/json", "User-Agent": "Kith-Webhooks/1", "Accept-Encoding": "identity",
               **signature_headers(secret=delivery.endpoint.secret, message_id=delivery.message_id, timestamp=now,
                                   body=body)}
    try:
        target = network.url_resolve(delivery.endpoint.url,
                                     allow_private=private_addresses_allowed(workspace_id=delivery.workspace_id))
        response = network.post(target, body=body.encode(), headers=headers)
    except UnsafeWebhookUrl as exc:
        return None, "", exc.message
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:1000]
    return response.status, response.body, "" if 200 <= response.status < 300 else f"HTTP {response.status}"


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Make the due attempt of one delivery, if it is due and nobody else is making it; record the outcome and
    schedule the retry (exponential backoff) or give up after ``MAX_ATTEMPTS``. Returns the row, or ``None`` when
    there was nothing to do (already delivered, not yet due, taken by another worker)."""
    now = clock.now()
    delivery = _claim(delivery_id, now=now)
    if delivery is None:
        return None
    code, excerpt, error = _send(delivery, now=now)
    delivery.response_code, delivery.response_body, delivery.error = code, excerpt, error
    retry = False
    if not error:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.SUCCEEDED, None
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD, None
    else:
        delivery.status, delivery.next_attempt_at = DeliveryStatus.FAILED, clock.now() + backoff(delivery.attempts)
        retry = True
    # Conditioned on this attempt's number: a late writer whose lease ran out cannot overwrite a newer attempt.
    WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(
        status=delivery.status, next_attempt_at=delivery.next_attempt_at, response_code=code,
        response_body=excerpt, error=error, updated_at=clock.now())
    if retry:
        assert delivery.next_attempt_at is not None
        enqueue_on_commit(webhook_delivery_task, run_at=delivery.next_attempt_at, delivery_id=delivery.pk)
    if error:
        _endpoint_failure_record(delivery.endpoint, now=now, exhausted=delivery.status == DeliveryStatus.DEAD)
    elif delivery.endpoint.failing_since is not None:
        WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(failing_since=None)
    return delivery


def _endpoint_failure_record(endpoint: WebhookEndpoint, *, now: dt.datetime, exhausted: bool) -> None:
    """A failed attempt: start the endpoint's failure streak; if the attempt was a delivery's last and the streak
    is ``DISABLE_AFTER`` old, disable the endpoint. Both are conditional UPDATEs, so of several workers failing at
    once exactly one disables and notifies."""
    if endpoint.failing_since is None:
        WebhookEndpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(failing_since=now)
        return
    if not exhausted or endpoint.failing_since > now - DISABLE_AFTER:
        return
    reason = (f"Every attempt failed since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC; Kith stopped sending. "
              "Fix the receiver, then turn the endpoint on again and replay what it missed.")
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(
            pk=endpoint.pk, is_active=True, failing_since__lte=now - DISABLE_AFTER,
        ).update(is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now)
        if not disabled:
            return
        # Its open deliveries stop here and stay in the log, where they can be replayed once it works again.
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint.pk, status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
        ).update(status=DeliveryStatus.DEAD, next_attempt_at=None, error="The endpoint was disabled after "
                 "sustained failure.", updated_at=now)
        audit_record(action="webhook_endpoint.disabled", actor=None, workspace=endpoint.workspace, target=endpoint,
                     after={"reason": reason})
        _admins_notify(endpoint, text=f"Webhook endpoint {endpoint.url} was disabled: it has failed every attempt "
                                      f"since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC.")
    logger.warning("webhooks: disabled endpoint %s (%s) after sustained failure", endpoint.pk, endpoint.url)


def _admins_notify(endpoint: WebhookEndpoint, *, text: str) -> None:
    """An in-app notification for every owner and admin of the endpoint's workspace (who manage webhooks)."""
    admins = (Membership.objects.filter(workspace_id=endpoint.workspace_id, role__in=list(ADMIN_ROLES),
                                        user__is_active=True).select_related("user"))
    url = reverse("outgoing_webhooks:endpoint_edit", kwargs={"pk": endpoint.pk})
    for membership in admins:
        notification_create(workspace=endpoint.workspace, recipient=membership.user,
                            kind=DISABLED_NOTIFICATION_KIND, text=text, url=url)


@job(lease_seconds=300)
def webhook_delivery_task(*, delivery_id: int) -> None:
    webhook_delivery_attempt(delivery_id=delivery_id)


@job(lease_seconds=300)
def webhook_delivery_batch_task(*, delivery_ids: list[int]) -> None:
    """Attempt one endpoint's deliveries of a bulk write, in order. Each attempt claims its own row, so a rerun
    after a crash (or the sweeper ringing one of them) sends nothing twice; the lease is renewed between attempts
    because a thousand slow answers outlast any fixed lease."""
    for delivery_id in delivery_ids:
        webhook_delivery_attempt(delivery_id=delivery_id)
        job_lease_extend()


@job
def webhook_deliveries_sweep() -> None:
    """Ring every due delivery again (a doorbell lost with a crashed process or broker, or an attempt whose worker
    died). Attempts claim their row, so ringing one twice is harmless."""
    due = (WebhookDelivery.objects
           .filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=clock.now())
           .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
    for delivery_id in due:
        enqueue_on_commit(webhook_delivery_task, delivery_id=delivery_id)
