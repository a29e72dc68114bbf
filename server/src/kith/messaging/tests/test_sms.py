"""SMS: templates (text only, segment counting), the transactional API with ``channel: "sms"``, and SMS consent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.contacts.services import contact_create
from kith.messaging.models import (
    Channel,
    DeliverySettings,
    Message,
    MessageStatus,
    SourceType,
)
from kith.messaging.rendering import TemplateRenderError
from kith.messaging.sending import message_send
from kith.messaging.services import message_queue, template_create
from kith.messaging.sms import sms_segments
from kith.messaging.tests.factories import template_make
from kith.messaging.tests.standins import StandIn, standin_start
from kith.timeline.models import Activity, ActivityKind


@pytest.mark.parametrize(("text", "segments"), [
    ("", 0), ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("€" * 80, 1), ("€" * 81, 2),  # extension characters cost two septets
    ("é" * 160, 1),  # é is in the GSM basic table
    ("ł" * 70, 1), ("ł" * 71, 2), ("😀" * 35, 1), ("😀" * 36, 2),  # UCS-2; emoji take two code units
])
def test_segments_follow_gsm7_and_ucs2_limits(text, segments):
    assert sms_segments(text) == segments


@pytest.fixture
def twilio(settings: Any, personas: Any) -> Iterator[StandIn]:
    standin = standin_start("twilio")
    settings.KITH_TWILIO_ACCOUNT_SID, settings.KITH_TWILIO_AUTH_TOKEN = "ACtest", "twilio-token"
    settings.KITH_TWILIO_API_URL = standin.url
    DeliverySettings.objects.create(workspace=personas.acme, sms_backend="twilio", sms_from="+14155238886")
    yield standin
    standin.stop()


@pytest.fixture
def sms_template(personas: Any) -> Any:
    return template_create(workspace=personas.acme, actor=None, name="Code", channel=Channel.SMS,
                           content={"text": "Your code is {{ data.code }}"})


@pytest.mark.django_db
def test_an_sms_template_needs_a_text_that_fits_ten_segments(personas):
    with pytest.raises(TemplateRenderError) as empty:
        template_create(workspace=personas.acme, actor=None, name="Empty", channel=Channel.SMS, content={"text": ""})
    assert empty.value.field == "text"
    with pytest.raises(TemplateRenderError, match="10 SMS segments"):
        template_create(workspace=personas.acme, actor=None, name="Long", channel=Channel.SMS,
                        content={"text": "x" * 1600})


@pytest.mark.django_db
def test_marketing_sms_needs_an_opt_in_and_transactional_sms_respects_an_opt_out(personas, twilio, sms_template):
    unknown = contact_create(workspace=personas.acme, actor=None, data={"phone": "+14155238801"})
    opted_out = contact_create(workspace=personas.acme, actor=None,
                               data={"phone": "+14155238802", "sms_consent": "opted_out"})
    campaign = message_queue(workspace=personas.acme, template=sms_template, contact=unknown,
                             source_type=SourceType.CAMPAIGN, source_id="promo")
    receipt = message_queue(workspace=personas.acme, template=sms_template, contact=opted_out,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=campaign.pk) == MessageStatus.SUPPRESSED
    assert message_send(message_id=receipt.pk) == MessageStatus.SUPPRESSED
    assert twilio.accepted == []


@pytest.mark.django_db
def test_an_sms_without_a_configured_provider_fails_clearly(personas, sms_template):
    contact = contact_create(workspace=personas.acme, actor=None, data={"phone": "+14155238801"})
    message = message_queue(workspace=personas.acme, template=sms_template, contact=contact,
                            source_type=SourceType.TRANSACTIONAL)
    assert message_send(message_id=message.pk) == MessageStatus.FAILED
    message.refresh_from_db()
    assert "no SMS provider" in message.error


@pytest.fixture
def keyed(personas: Any) -> APIClient:
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="app", scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.django_db(transaction=True)
def test_the_transactional_api_sends_an_sms_to_a_phone_number(personas, twilio, sms_template, keyed):
    response = keyed.post("/api/v1/messages/", {"template": sms_template.pk, "channel": "sms",
                                                "phone": "+1 415 523 8800", "create_contact": True,
                                                "merge_data": {"code": "493021"}}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["channel"] == "sms" and body["to_address"] == "+14155238800"
    message = Message.objects.get(pk=body["id"])
    assert message.status == MessageStatus.SENT and message.provider == "twilio"
    assert [(to, fields["Body"]) for to, fields in twilio.accepted] == [("+14155238800", "Your code is 493021")]
    assert Activity.objects.filter(contact=message.contact, kind=ActivityKind.SMS_SENT).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("payload", "field"), [
    ({"channel": "sms", "phone": "not a number", "create_contact": True}, "phone"),
    ({"phone": "+14155238800"}, "phone"),
    ({"channel": "sms", "email": "ada@example.com"}, "email"),
    ({"channel": "sms", "phone": "+14155238800", "email": "ada@example.com"}, "contact"),
    ({"channel": "sms", "phone": "+14155238800"}, "phone"),  # no such contact, and create_contact not given
    ({"channel": "fax", "phone": "+14155238800"}, "channel"),
])
def test_bad_sms_requests_get_field_errors(personas, sms_template, keyed, payload, field):
    response = keyed.post("/api/v1/messages/", {"template": sms_template.pk, **payload}, format="json")
    assert 400 <= response.status_code < 500
    assert field in str(response.json())


@pytest.mark.django_db
def test_an_email_template_cannot_be_sent_as_sms(personas, keyed):
    template = template_make(workspace=personas.acme)
    response = keyed.post("/api/v1/messages/", {"template": template.pk, "channel": "sms", "phone": "+14155238800",
                                                "create_contact": True}, format="json")
    assert response.status_code == 400 and "template" in str(response.json())
