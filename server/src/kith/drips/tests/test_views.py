"""The sequence pages: create, add steps, change a step, move it, switch on; viewers read only; outsiders get 404."""

from __future__ import annotations

import pytest
from django.test import Client

from kith.accounts.models import Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.drips.models import Sequence
from kith.drips.tests.helpers import sequence_make
from kith.messaging.tests.factories import template_make

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_alice_creates_a_sequence_with_two_steps_and_switches_it_on(personas):
    hello = template_make(workspace=personas.acme, name="Hello")
    tips = template_make(workspace=personas.acme, name="Tips")
    web = _client(personas.alice)
    assert web.get("/sequences/").status_code == 200
    response = web.post("/sequences/new/", {"name": "Onboarding", "enroll_event": "Signed Up", "send_time": "08:30",
                                            "exit_events": "Upgraded, Churned"})
    assert response.status_code == 302, response.content
    sequence = Sequence.objects.get(name="Onboarding")
    assert sequence.exit_events == ["Upgraded", "Churned"]
    edit = f"/sequences/{sequence.pk}/"
    assert web.post(edit + "steps/", {"template": hello.pk, "day_offset": 0}).status_code == 302
    assert web.post(edit + "steps/", {"template": tips.pk, "day_offset": 2}).status_code == 302
    backwards = web.post(edit + "steps/", {"template": tips.pk, "day_offset": 1})
    assert backwards.status_code == 400 and "before the previous step" in backwards.content.decode()
    first, second = sequence.steps.order_by("position")
    assert web.post(edit + f"steps/{second.pk}/", {"template": hello.pk, "day_offset": 0}).status_code == 302
    assert web.post(edit + f"steps/{second.pk}/move/", {"direction": "up"}).status_code == 302
    assert list(sequence.steps.order_by("position").values_list("pk", flat=True)) == [second.pk, first.pk]
    assert web.post(edit + "switch/", {"active": "1"}).status_code == 302
    sequence.refresh_from_db()
    assert sequence.is_active
    page = web.get(edit).content.decode()
    assert "Hello" in page and "Switch off" in page


def test_a_bad_send_time_is_shown_on_its_field(personas):
    response = _client(personas.alice).post("/sequences/new/", {"name": "X", "send_time": "9am"})
    assert response.status_code == 400 and "Give a time of day as HH:MM." in response.content.decode()


def test_a_viewer_reads_but_cannot_change(personas):
    sequence = sequence_make(personas, days=(0,))
    viewer = UserFactory(email="vera@acme.test")
    MembershipFactory(user=viewer, workspace=personas.acme, role=Role.VIEWER)
    web = _client(viewer)
    assert web.get(f"/sequences/{sequence.pk}/").status_code == 200
    assert web.post(f"/sequences/{sequence.pk}/switch/", {"active": "0"}).status_code == 403
    assert Sequence.objects.get(pk=sequence.pk).is_active


def test_mallory_gets_404_for_acmes_sequence(personas):
    sequence = sequence_make(personas, days=(0,))
    web = _client(personas.mallory)
    assert web.get(f"/sequences/{sequence.pk}/").status_code == 404
    assert web.post(f"/sequences/{sequence.pk}/delete/").status_code == 404
    assert Sequence.objects.filter(pk=sequence.pk).exists()
