"""POST /api/v1/messages/ and the ledger reads."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from kith.accounts.services import api_key_create
from kith.contacts.models import Contact
from kith.contacts.services import contact_create
from kith.messaging.backends import memory
from kith.messaging.models import Message, MessageStatus, SourceType
from kith.messaging.tests.factories import template_make
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def memory_backend(settings):
    settings.KITH_MESSAGING_EMAIL_BACKEND = "memory"
    memory.outbox.clear()
    yield
    memory.outbox.clear()


@pytest.fixture
def keyed(personas):
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="shop", scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_a_transactional_send_creates_the_contact_sends_and_reads_back(personas, keyed):
    template = template_make(workspace=personas.acme, subject="Order {{ data.order_id }}",
                             html="<p>Thanks {{ contact.first_name | default('there') }}, order {{ data.order_id }}</p>")
    response = keyed.post("/api/v1/messages/", {"template": template.pk, "email": "New@Example.com",
                                                "create_contact": True, "merge_data": {"order_id": "A-1"}},
                          format="json", HTTP_IDEMPOTENCY_KEY="order-A-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source_type"] == SourceType.TRANSACTIONAL and body["to_address"] == "new@example.com"
    contact = Contact.objects.get(workspace=personas.acme, email="new@example.com")
    read = keyed.get(f"/api/v1/messages/{body['id']}/").json()
    assert read["status"] == MessageStatus.SENT and read["subject"] == "Order A-1" and read["template_version"] == 1
    assert len(memory.outbox) == 1
    assert Activity.objects.filter(contact=contact, kind=ActivityKind.EMAIL_SENT).exists()
    # The same Idempotency-Key replays the answer and sends nothing more.
    again = keyed.post("/api/v1/messages/", {"template": template.pk, "email": "New@Example.com",
                                             "create_contact": True, "merge_data": {"order_id": "A-1"}},
                       format="json", HTTP_IDEMPOTENCY_KEY="order-A-1")
    assert again.status_code == 201 and again.json()["id"] == body["id"] and again["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1 and len(memory.outbox) == 1


def test_an_unknown_address_without_create_contact_is_refused(personas, keyed):
    template = template_make(workspace=personas.acme)
    response = keyed.post("/api/v1/messages/", {"template": template.pk, "email": "nobody@example.com"},
                          format="json")
    assert response.status_code == 404
    assert Message.objects.count() == 0


def test_a_contact_id_recipient_and_validation(personas, keyed):
    template = template_make(workspace=personas.acme)
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "c@example.com"})
    assert keyed.post("/api/v1/messages/", {"template": template.pk, "contact": contact.pk,
                                            "email": "c@example.com"}, format="json").status_code == 400
    response = keyed.post("/api/v1/messages/", {"template": template.pk, "contact": contact.pk}, format="json")
    assert response.status_code == 201
    assert keyed.get("/api/v1/messages/").json()["results"][0]["id"] == response.json()["id"]


def test_mallory_cannot_use_acme_templates_or_contacts(personas):
    template = template_make(workspace=personas.acme)
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "c@example.com"})
    client = APIClient()
    client.force_login(personas.mallory)
    response = client.post("/api/v1/messages/", {"template": template.pk, "contact": contact.pk}, format="json")
    assert response.status_code == 404
    assert Message.objects.count() == 0
