"""A definition is validated when saved: every problem is reported, keyed by the step that has it."""

from __future__ import annotations

from typing import Any

import pytest

from kith.contacts.errors import InvalidFields
from kith.contacts.services import custom_field_definition_create
from kith.messaging.models import Channel
from kith.messaging.services import template_create
from kith.workflows.definition import definition_validate

pytestmark = pytest.mark.django_db


def errors_of(personas: Any, definition: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidFields) as caught:
        definition_validate(workspace=personas.acme, definition=definition)
    return caught.value.errors


@pytest.fixture
def mail(personas):
    return template_create(workspace=personas.acme, actor=None, name="Mail", content={"subject": "S", "html": "<p>x</p>"})


def test_a_valid_definition_with_every_kind_passes(personas, mail):
    sms = template_create(workspace=personas.acme, actor=None, name="Text", channel=Channel.SMS,
                          content={"text": "Hi"})
    custom_field_definition_create(workspace=personas.acme, actor=None, object_type="contact", key="plan",
                                   label="Plan", field_type="text")
    definition = {"steps": [
        {"id": "a", "kind": "send_email", "template": mail.pk, "next": "b"},
        {"id": "b", "kind": "send_sms", "template": sms.pk, "next": "c"},
        {"id": "c", "kind": "wait", "duration": {"days": 1, "hours": 2}, "next": "d"},
        {"id": "d", "kind": "wait_until", "weekdays": ["mon", "tue"], "time": "09:30", "next": "e"},
        {"id": "e", "kind": "wait_event", "event": "Purchase Completed", "timeout": {"minutes": 30},
         "next": "f", "timeout_next": "f"},
        {"id": "f", "kind": "if_else", "condition": {"tag": "vip"}, "then": "g", "else": "g"},
        {"id": "g", "kind": "split", "branches": [{"percent": 30, "next": "h"}, {"percent": 70, "next": "h"}]},
        {"id": "h", "kind": "add_tag", "tag": "vip", "next": "i"},
        {"id": "i", "kind": "remove_tag", "tag": "trial", "next": "j"},
        {"id": "j", "kind": "set_field", "field": "attributes.plan", "value": "pro", "next": "k"},
        {"id": "k", "kind": "set_lifecycle_stage", "value": "customer", "next": "l"},
        {"id": "l", "kind": "set_lead_status", "value": "contacted", "next": "m"},
        {"id": "m", "kind": "assign_owner", "mode": "round_robin", "users": [personas.alice.pk, personas.bob.pk],
         "next": "n"},
        {"id": "n", "kind": "create_task", "title": "Call them", "due_in_days": 2, "next": "o"},
        {"id": "o", "kind": "adjust_score", "delta": 5, "next": "p"},
        {"id": "p", "kind": "notify", "text": "A hot lead", "next": "q"},
        {"id": "q", "kind": "exit"},
    ]}
    assert definition_validate(workspace=personas.acme, definition=definition) == definition


def test_every_problem_is_reported_next_to_its_step(personas, mail):
    errors = errors_of(personas, {"steps": [
        {"id": "mail", "kind": "send_email", "template": 999_999, "next": "nowhere"},
        {"id": "fly", "kind": "teleport"},
        {"id": "field", "kind": "set_field", "field": "shoe_size", "value": 44},
        {"id": "attr", "kind": "set_field", "field": "attributes.unknown", "value": 1},
        {"id": "sms", "kind": "send_sms", "template": mail.pk},
        {"id": "wait", "kind": "wait", "duration": {"minutes": -5}},
        {"id": "when", "kind": "wait_until", "time": "25:00"},
        {"id": "cond", "kind": "if_else", "condition": {"field": "lang", "op": "eq", "value": "en"}, "then": "mail"},
        {"id": "owner", "kind": "assign_owner", "user": personas.mallory.pk},
        {"id": "split", "kind": "split", "branches": [{"percent": 50}, {"percent": 20}]},
    ]})
    assert set(errors) == {
        "definition.steps.mail.template", "definition.steps.mail.next", "definition.steps.fly.kind",
        "definition.steps.field.field", "definition.steps.attr.field", "definition.steps.sms.template",
        "definition.steps.wait.duration", "definition.steps.when.time", "definition.steps.cond.condition",
        "definition.steps.owner.user", "definition.steps.split.branches"}
    assert "No step 'nowhere'" in errors["definition.steps.mail.next"][0]
    assert "Choose an SMS template" in errors["definition.steps.sms.template"][0]
    assert "add up to 70" in errors["definition.steps.split.branches"][0]


def test_a_loop_without_a_wait_is_refused_and_one_through_a_wait_is_allowed(personas):
    looping = {"steps": [
        {"id": "a", "kind": "add_tag", "tag": "x", "next": "b"},
        {"id": "b", "kind": "remove_tag", "tag": "x", "next": "a"},
    ]}
    errors = errors_of(personas, looping)
    assert "loop without a wait" in next(iter(errors.values()))[0]
    weekly = {"steps": [
        {"id": "a", "kind": "adjust_score", "delta": 1, "next": "w"},
        {"id": "w", "kind": "wait", "duration": {"days": 7}, "next": "a"},
    ]}
    assert definition_validate(workspace=personas.acme, definition=weekly) == weekly


@pytest.mark.parametrize("definition", [None, [], "steps", {"steps": []}, {"steps": {}}, {"steps": [1]},
                                        {"steps": [{"id": "a b", "kind": "exit"}]},
                                        {"steps": [{"id": "a", "kind": "exit"}, {"id": "a", "kind": "exit"}]},
                                        {"steps": [{"id": "a", "kind": "exit"}], "extra": 1}])
def test_malformed_definitions_are_field_errors_not_crashes(personas, definition):
    assert errors_of(personas, definition)


def test_another_workspace_s_template_is_unknown(personas):
    theirs = template_create(workspace=personas.mallory_inc, actor=None, name="Theirs",
                             content={"subject": "S", "html": "<p>x</p>"})
    errors = errors_of(personas, {"steps": [{"id": "a", "kind": "send_email", "template": theirs.pk}]})
    assert list(errors) == ["definition.steps.a.template"]
