"""Provider webhooks in each vendor's real payload format: verified requests update the ledger, the suppression list
and the timeline; unverified ones get a 4xx and change nothing. The bounce → suppression test at the top is the
guarantee the rest of the sending path relies on."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from kith.contacts.services import contact_create
from kith.messaging.backends import memory
from kith.messaging.models import (
    Channel,
    Message,
    MessageStatus,
    SourceType,
    Suppression,
    SuppressionReason,
)
from kith.messaging.sending import message_send
from kith.messaging.services import message_queue, template_create
from kith.messaging.tests.factories import template_make
from kith.messaging.webhooks import twilio_signature
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db

AUTH = "kith:webhook-secret"
MAILGUN_KEY = "mailgun-signing-key"


@pytest.fixture(autouse=True)
def _webhooks(settings: Any) -> None:
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    settings.KITH_WEBHOOK_BASIC_AUTH = AUTH
    settings.ANYMAIL = {"WEBHOOK_SECRET": AUTH, "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    settings.KITH_TWILIO_AUTH_TOKEN = "twilio-token"
    memory.outbox.clear()


def _client(auth: str = AUTH) -> Client:
    return Client(HTTP_AUTHORIZATION="Basic " + base64.b64encode(auth.encode()).decode())


def _sent(personas: Any, *, provider: str, address: str = "ada@example.com", source_id: str = "spring",
          channel: str = Channel.EMAIL) -> Message:
    """A message the provider accepted: status sent with the provider's id."""
    if channel == Channel.SMS:
        template = template_create(workspace=personas.acme, actor=None, name=f"T {source_id}", channel=Channel.SMS,
                                   content={"text": "Hello"})
        contact = contact_create(workspace=personas.acme, actor=None, data={"phone": address})
    else:
        template = template_make(workspace=personas.acme, name=f"T {source_id}")
        contact = contact_create(workspace=personas.acme, actor=None, data={"email": address})
    message = message_queue(workspace=personas.acme, template=template, contact=contact,
                            source_type=SourceType.CAMPAIGN, source_id=source_id)
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.SENT, provider=provider,
                                                 provider_message_id=f"pm-{uuid.uuid4()}", subject="Spring sale")
    message.refresh_from_db()
    return message


def _postmark_bounce(message: Message, kind: str = "HardBounce") -> dict[str, Any]:
    return {"RecordType": "Bounce", "ID": 4323372036854775807, "Type": kind, "TypeCode": 1, "Name": "Hard bounce",
            "Tag": "", "MessageID": message.provider_message_id, "ServerID": 23, "MessageStream": "outbound",
            "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": message.to_address, "From": "team@acme.test", "BouncedAt": "2026-11-22T03:00:00Z",
            "DumpAvailable": True, "Inactive": True, "CanActivate": True, "Subject": "Spring sale",
            "Metadata": {}}


def test_a_hard_bounce_suppresses_the_address_so_no_later_message_is_sent(personas):
    # given a campaign message Postmark accepted
    message = _sent(personas, provider="postmark")
    # when Postmark reports a hard bounce
    response = _client().post("/webhooks/email/postmark/", _postmark_bounce(message), content_type="application/json")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED and "does not exist" in message.error
    assert Suppression.objects.get(workspace=personas.acme, address="ada@example.com").reason == \
        SuppressionReason.HARD_BOUNCE
    assert Activity.objects.filter(contact=message.contact, kind=ActivityKind.EMAIL_BOUNCED).count() == 1
    # then neither the next campaign nor a transactional message goes to that address
    template = template_make(workspace=personas.acme, name="Next")
    later = message_queue(workspace=personas.acme, template=template, contact=message.contact,
                          source_type=SourceType.CAMPAIGN, source_id="summer")
    receipt = message_queue(workspace=personas.acme, template=template, contact=message.contact,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=later.pk) == MessageStatus.SUPPRESSED
    assert message_send(message_id=receipt.pk) == MessageStatus.SUPPRESSED
    assert memory.outbox == []


def test_a_soft_bounce_is_recorded_without_suppressing(personas):
    message = _sent(personas, provider="postmark")
    _client().post("/webhooks/email/postmark/", _postmark_bounce(message, "SoftBounce"), content_type="application/json")
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert not Suppression.objects.filter(workspace=personas.acme).exists()


def test_an_unsubscribed_address_still_gets_transactional_mail_but_not_marketing(personas):
    message = _sent(personas, provider="postmark")
    Suppression.objects.create(workspace=personas.acme, address=message.to_address, reason=SuppressionReason.UNSUBSCRIBE)
    template = template_make(workspace=personas.acme, name="Receipt")
    receipt = message_queue(workspace=personas.acme, template=template, contact=message.contact,
                            source_type=SourceType.TRANSACTIONAL)
    campaign = message_queue(workspace=personas.acme, template=template, contact=message.contact,
                             source_type=SourceType.CAMPAIGN, source_id="summer")
    assert message_send(message_id=receipt.pk) == MessageStatus.SENT
    assert message_send(message_id=campaign.pk) == MessageStatus.SUPPRESSED


@pytest.mark.parametrize("auth", ["kith:wrong", ""])
def test_a_webhook_with_wrong_or_missing_credentials_is_refused_and_changes_nothing(personas, auth):
    message = _sent(personas, provider="postmark")
    client = _client(auth) if auth else Client()
    response = client.post("/webhooks/email/postmark/", _postmark_bounce(message), content_type="application/json")
    assert response.status_code == 401
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert not Suppression.objects.exists()


def test_webhooks_are_closed_until_a_secret_is_configured(personas, settings):
    settings.KITH_WEBHOOK_BASIC_AUTH = ""
    message = _sent(personas, provider="postmark")
    response = _client().post("/webhooks/email/postmark/", _postmark_bounce(message), content_type="application/json")
    assert response.status_code == 401
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'"text"', b'{"RecordType": 5}'])
def test_a_malformed_payload_is_a_400_not_a_500(personas, body):
    response = _client().post("/webhooks/email/postmark/", body, content_type="application/json")
    assert response.status_code in (200, 400)
    assert response.status_code == 400 or not Suppression.objects.exists()


def test_delivery_and_a_late_repeat_move_the_ledger_forward_once(personas):
    message = _sent(personas, provider="postmark")
    delivery = {"RecordType": "Delivery", "ServerID": 23, "MessageStream": "outbound",
                "MessageID": message.provider_message_id, "Recipient": message.to_address, "Tag": "",
                "DeliveredAt": "2026-11-22T03:01:00Z", "Details": "Test delivery webhook details", "Metadata": {}}
    for _ in range(2):
        assert _client().post("/webhooks/email/postmark/", delivery, content_type="application/json").status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert Activity.objects.filter(contact=message.contact, kind=ActivityKind.EMAIL_DELIVERED).count() == 1


def test_sendgrid_spam_report_marks_complained_and_suppresses(personas):
    message = _sent(personas, provider="sendgrid")
    events = [{"email": message.to_address, "timestamp": 1795000000, "event": "spamreport",
               "sg_event_id": "sg-1", "sg_message_id": "abc.filter0001", "anymail_id": message.provider_message_id}]
    response = _client().post("/webhooks/email/sendgrid/", events, content_type="application/json")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.COMPLAINED
    assert Suppression.objects.get(address=message.to_address).reason == SuppressionReason.COMPLAINT


def _mailgun_payload(message: Message, *, key: str = MAILGUN_KEY) -> dict[str, Any]:
    timestamp, token = "1795000000", "a" * 50
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature},
            "event-data": {"event": "failed", "severity": "permanent", "reason": "bounce", "id": "ev-1",
                           "timestamp": 1795000000.5, "recipient": message.to_address,
                           "log-level": "error", "message": {"headers": {"message-id": message.provider_message_id}},
                           "delivery-status": {"code": 550, "message": "5.1.1 No such user",
                                               "description": "No such user", "attempt-no": 1}}}


def test_mailgun_bounce_with_a_valid_signature_suppresses(personas):
    message = _sent(personas, provider="mailgun")
    Message.objects.filter(pk=message.pk).update(provider_message_id="<20261122.1@mg.acme.test>")
    message.refresh_from_db()
    response = _client().post("/webhooks/email/mailgun/", _mailgun_payload(message), content_type="application/json")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert Suppression.objects.filter(address=message.to_address, reason=SuppressionReason.HARD_BOUNCE).exists()


def test_mailgun_bounce_with_a_forged_signature_is_refused(personas):
    message = _sent(personas, provider="mailgun")
    payload = _mailgun_payload(message, key="not-the-key")
    response = _client().post("/webhooks/email/mailgun/", payload, content_type="application/json")
    assert response.status_code == 401
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and not Suppression.objects.exists()


def test_ses_complaint_through_sns_marks_complained(personas):
    message = _sent(personas, provider="ses")
    ses_event = {"eventType": "Complaint",
                 "complaint": {"complainedRecipients": [{"emailAddress": message.to_address}],
                               "timestamp": "2026-11-22T03:05:00.000Z", "feedbackId": "fb-1",
                               "complaintFeedbackType": "abuse"},
                 "mail": {"timestamp": "2026-11-22T03:00:00.000Z", "source": "team@acme.test",
                          "messageId": message.provider_message_id, "destination": [message.to_address],
                          "headers": []}}
    sns = {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:eu-west-1:123456789012:kith",
           "Message": json.dumps(ses_event), "Timestamp": "2026-11-22T03:05:01.000Z", "SignatureVersion": "1",
           "Signature": "unused", "SigningCertURL": "https://sns.example/cert.pem"}
    response = _client().post("/webhooks/email/ses/", json.dumps(sns), content_type="text/plain; charset=UTF-8",
                              HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification", HTTP_X_AMZ_SNS_MESSAGE_ID="sns-1")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.COMPLAINED
    assert Suppression.objects.filter(address=message.to_address, reason=SuppressionReason.COMPLAINT).exists()


def test_ses_request_without_sns_headers_is_refused(personas):
    response = _client().post("/webhooks/email/ses/", json.dumps({"Type": "Notification", "MessageId": "x"}),
                              content_type="text/plain")
    assert response.status_code in (400, 401)


def _twilio_post(params: dict[str, str], *, token: str = "twilio-token") -> Any:
    from django.conf import settings

    url = f"{settings.KITH_BASE_URL}/webhooks/sms/twilio/status/"
    return Client().post("/webhooks/sms/twilio/status/", params,
                         HTTP_X_TWILIO_SIGNATURE=twilio_signature(url=url, params=params, auth_token=token))


def test_twilio_undelivered_to_a_landline_bounces_and_suppresses_the_number(personas):
    message = _sent(personas, provider="twilio", address="+14155238800", channel=Channel.SMS)
    response = _twilio_post({"MessageSid": message.provider_message_id, "MessageStatus": "undelivered",
                             "ErrorCode": "30006", "AccountSid": "ACtest", "To": message.to_address})
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.BOUNCED
    assert Suppression.objects.filter(address=message.to_address, reason=SuppressionReason.HARD_BOUNCE).exists()


def test_twilio_delivered_updates_the_ledger(personas):
    message = _sent(personas, provider="twilio", address="+14155238800", channel=Channel.SMS)
    _twilio_post({"MessageSid": message.provider_message_id, "MessageStatus": "delivered", "AccountSid": "ACtest"})
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_twilio_callback_with_a_bad_signature_is_refused(personas):
    message = _sent(personas, provider="twilio", address="+14155238800", channel=Channel.SMS)
    response = _twilio_post({"MessageSid": message.provider_message_id, "MessageStatus": "undelivered",
                             "ErrorCode": "30006"}, token="forged")
    assert response.status_code == 401
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and not Suppression.objects.exists()


def test_an_event_for_another_providers_id_changes_nothing(personas):
    message = _sent(personas, provider="ses")
    response = _client().post("/webhooks/email/postmark/", _postmark_bounce(message), content_type="application/json")
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and not Suppression.objects.exists()
