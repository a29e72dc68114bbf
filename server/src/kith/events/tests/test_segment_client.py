"""The real segment-analytics-python client, pointed at a live Kith server, delivers identify + track + page."""

from __future__ import annotations

import pytest
from segment.analytics import Client

from kith.contacts.models import Contact
from kith.events.models import Event
from kith.events.services import event_write_key_create
from kith.timeline.models import Activity

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_segment_python_client_delivers_to_kith(live_server, personas):
    _, write_key = event_write_key_create(workspace=personas.acme, actor=personas.alice)
    errors = []
    client = Client(write_key, host=live_server.url, gzip=True, max_retries=0,
                    on_error=lambda error, batch: errors.append(error))

    client.page(anonymous_id="visitor-1", name="Pricing", properties={"path": "/pricing"})
    client.identify("user-42", {"email": "Ada@Example.com", "firstName": "Ada"}, anonymous_id="visitor-1")
    client.track("user-42", "Purchase Completed", {"total": 99.5, "currency": "EUR"})
    client.flush()
    client.join()

    assert errors == []
    events = list(Event.objects.filter(workspace=personas.acme).order_by("id"))
    assert [(e.type, e.name) for e in events] == [
        ("page", "Pricing"), ("identify", ""), ("track", "Purchase Completed")]
    contact = Contact.objects.get(workspace=personas.acme, external_id="user-42")
    assert (contact.email, contact.first_name) == ("ada@example.com", "Ada")
    assert all(e.contact_id == contact.pk for e in events)
    assert events[2].properties == {"total": 99.5, "currency": "EUR"}
    assert events[2].context["library"]["name"] == "analytics-python"
    assert Activity.objects.filter(contact=contact, title="Purchase Completed").exists()


def test_the_segment_python_client_with_a_wrong_key_gets_an_error(live_server, personas):
    errors = []
    client = Client("kith_deadbeef_wrong", host=live_server.url, max_retries=0,
                    on_error=lambda error, batch: errors.append(error))

    client.track("user-1", "Anything")
    client.flush()
    client.join()

    assert len(errors) == 1
    assert errors[0].status == 401
    assert not Event.objects.exists()
