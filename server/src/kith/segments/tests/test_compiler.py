"""The compiler against real rows: every operator, nesting, not, segment-of-segment, cycles and invalid input."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts.models import (
    Company,
    Contact,
    ContactTag,
    CustomFieldDefinition,
    Tag,
)
from kith.core import clock
from kith.events.models import Event
from kith.messaging.models import Message, SourceType
from kith.messaging.services import message_queue, template_create
from kith.segments import selectors
from kith.segments.errors import InvalidSegment
from kith.segments.models import Segment

pytestmark = pytest.mark.django_db
_ids = itertools.count(1)


@pytest.fixture
def acme(personas: Any) -> Any:
    ws = personas.acme
    for key, field_type, choices in [("plan", "single_choice", ["free", "pro", "team"]), ("seats", "number", []),
                                     ("trial", "boolean", []), ("renewal", "date", []), ("note", "text", []),
                                     ("channels", "multi_choice", ["email", "sms", "push"])]:
        CustomFieldDefinition.objects.create(workspace=ws, object_type="contact", key=key, label=key,
                                             field_type=field_type, choices=choices)
    return ws


def make(ws: Any, **fields: Any) -> Contact:
    tags = fields.pop("tags", [])
    contact = Contact.objects.create(workspace=ws, email=fields.pop("email", f"c{next(_ids)}@example.test"),
                                     **fields)
    for name in tags:
        tag, _ = Tag.objects.get_or_create(workspace=ws, name_key=Tag.key_for(name), defaults={"name": name})
        ContactTag.objects.create(contact=contact, tag=tag)
    return contact


def emails(ws: Any, definition: Any) -> set[str]:
    condition = selectors.segment_condition(workspace=ws, definition=definition)
    return set(Contact.objects.for_workspace(ws).filter(condition).values_list("email", flat=True))


def error(ws: Any, definition: Any) -> str:
    with pytest.raises(InvalidSegment) as caught:
        selectors.segment_condition(workspace=ws, definition=definition)
    return caught.value.message


def test_contact_field_operators(acme):
    make(acme, email="ann@example.test", first_name="Ann", lifecycle_stage="customer", engagement_score=10,
         locale="en")
    make(acme, email="ben@example.test", first_name="Ben", lifecycle_stage="lead", engagement_score=3, locale="")
    assert emails(acme, {"field": "lifecycle_stage", "op": "eq", "value": "customer"}) == {"ann@example.test"}
    assert emails(acme, {"field": "lifecycle_stage", "op": "neq", "value": "customer"}) == {"ben@example.test"}
    assert emails(acme, {"field": "lifecycle_stage", "op": "in", "value": ["lead", "mql"]}) == {"ben@example.test"}
    assert emails(acme, {"field": "lifecycle_stage", "op": "not_in", "value": ["lead"]}) == {"ann@example.test"}
    assert emails(acme, {"field": "engagement_score", "op": "gt", "value": 3}) == {"ann@example.test"}
    assert emails(acme, {"field": "engagement_score", "op": "gte", "value": 3}) == {"ann@example.test",
                                                                                     "ben@example.test"}
    assert emails(acme, {"field": "engagement_score", "op": "lt", "value": 10}) == {"ben@example.test"}
    assert emails(acme, {"field": "engagement_score", "op": "lte", "value": 3}) == {"ben@example.test"}
    assert emails(acme, {"field": "first_name", "op": "contains", "value": "N"}) == {"ann@example.test",
                                                                                       "ben@example.test"}
    assert emails(acme, {"field": "first_name", "op": "starts_with", "value": "be"}) == {"ben@example.test"}
    assert emails(acme, {"field": "email", "op": "eq", "value": "ANN@example.test"}) == {"ann@example.test"}
    assert emails(acme, {"field": "locale", "op": "is_set"}) == {"ann@example.test"}
    assert emails(acme, {"field": "locale", "op": "is_not_set"}) == {"ben@example.test"}


def test_owner_and_company_fields_include_unset_rows_in_negations(acme, personas):
    shop = Company.objects.create(workspace=acme, name="Shop", industry="retail", size="1-10")
    make(acme, email="owned@example.test", owner=personas.alice, company=shop)
    make(acme, email="loose@example.test")
    assert emails(acme, {"field": "owner", "op": "eq", "value": personas.alice.pk}) == {"owned@example.test"}
    assert emails(acme, {"field": "owner", "op": "neq", "value": personas.alice.pk}) == {"loose@example.test"}
    assert emails(acme, {"field": "owner", "op": "is_not_set"}) == {"loose@example.test"}
    assert emails(acme, {"field": "company", "op": "in", "value": [shop.pk]}) == {"owned@example.test"}
    assert emails(acme, {"field": "company.industry", "op": "eq", "value": "retail"}) == {"owned@example.test"}
    assert emails(acme, {"field": "company.industry", "op": "neq", "value": "retail"}) == {"loose@example.test"}
    assert emails(acme, {"field": "company.size", "op": "is_set"}) == {"owned@example.test"}
    assert emails(acme, {"field": "company.name", "op": "not_in", "value": ["Shop"]}) == {"loose@example.test"}


def test_date_operators(acme):
    now = clock.now()
    old = make(acme, email="old@example.test", last_seen_at=now - dt.timedelta(days=40))
    make(acme, email="new@example.test")
    Contact.objects.filter(pk=old.pk).update(created_at=now - dt.timedelta(days=45))
    assert emails(acme, {"field": "created_at", "op": "within_last", "days": 30}) == {"new@example.test"}
    assert emails(acme, {"field": "created_at", "op": "more_than_days_ago", "days": 30}) == {"old@example.test"}
    cutoff = (now - dt.timedelta(days=10)).date().isoformat()
    assert emails(acme, {"field": "created_at", "op": "before", "value": cutoff}) == {"old@example.test"}
    assert emails(acme, {"field": "created_at", "op": "after", "value": cutoff}) == {"new@example.test"}
    assert emails(acme, {"field": "last_seen_at", "op": "is_not_set"}) == {"new@example.test"}


def test_attribute_operators_by_type(acme):
    make(acme, email="a@example.test", attributes={"plan": "pro", "seats": 12, "trial": True,
                                                   "renewal": "2025-03-01", "note": "hi", "channels": ["email"]})
    make(acme, email="b@example.test", attributes={"plan": "free", "seats": 2, "trial": False,
                                                   "renewal": "2024-01-15", "channels": ["sms", "push"]})
    make(acme, email="c@example.test", attributes={})
    assert emails(acme, {"attr": "plan", "op": "eq", "value": "PRO"}) == {"a@example.test"}
    assert emails(acme, {"attr": "plan", "op": "neq", "value": "pro"}) == {"b@example.test", "c@example.test"}
    assert emails(acme, {"attr": "plan", "op": "in", "value": ["pro", "team"]}) == {"a@example.test"}
    assert emails(acme, {"attr": "plan", "op": "not_in", "value": ["pro"]}) == {"b@example.test", "c@example.test"}
    assert emails(acme, {"attr": "seats", "op": "gt", "value": 5}) == {"a@example.test"}
    assert emails(acme, {"attr": "seats", "op": "lte", "value": "2"}) == {"b@example.test"}
    assert emails(acme, {"attr": "trial", "op": "eq", "value": "yes"}) == {"a@example.test"}
    assert emails(acme, {"attr": "renewal", "op": "before", "value": "2025-01-01"}) == {"b@example.test"}
    assert emails(acme, {"attr": "renewal", "op": "after", "value": "2025-01-01"}) == {"a@example.test"}
    assert emails(acme, {"attr": "note", "op": "is_set"}) == {"a@example.test"}
    assert emails(acme, {"attr": "note", "op": "is_not_set"}) == {"b@example.test", "c@example.test"}
    assert emails(acme, {"attr": "channels", "op": "contains", "value": "sms"}) == {"b@example.test"}
    assert emails(acme, {"attr": "channels", "op": "not_contains", "value": "sms"}) == {"a@example.test",
                                                                                         "c@example.test"}


def test_tags_events_and_messages(acme, personas):
    now = clock.now()
    buyer = make(acme, email="buyer@example.test", tags=["VIP"])
    once = make(acme, email="once@example.test")
    make(acme, email="never@example.test")
    for days_ago in (5, 20, 200):
        Event.objects.create(workspace=acme, message_id=f"m{next(_ids)}", type="track", name="Purchase Completed",
                             contact=buyer, timestamp=now - dt.timedelta(days=days_ago), received_at=now)
    Event.objects.create(workspace=acme, message_id=f"m{next(_ids)}", type="track", name="Purchase Completed",
                         contact=once, timestamp=now - dt.timedelta(days=1), received_at=now)
    purchase = {"event": "Purchase Completed"}
    assert emails(acme, {"tag": "vip"}) == {"buyer@example.test"}
    assert emails(acme, {"tag": "vip", "op": "not_has"}) == {"once@example.test", "never@example.test"}
    assert emails(acme, {**purchase, "op": "at_least", "count": 2, "within_days": 90}) == {"buyer@example.test"}
    assert emails(acme, {**purchase, "op": "at_least", "count": 3}) == {"buyer@example.test"}
    assert emails(acme, {**purchase, "op": "at_least", "count": 1, "within_days": 2}) == {"once@example.test"}
    assert emails(acme, {**purchase, "op": "exactly", "count": 1}) == {"once@example.test"}
    assert emails(acme, {**purchase, "op": "at_most", "count": 1}) == {"once@example.test", "never@example.test"}
    assert emails(acme, {**purchase, "op": "never"}) == {"never@example.test"}
    assert emails(acme, {**purchase, "op": "never", "within_days": 10}) == {"never@example.test"}
    template = template_create(workspace=acme, actor=personas.alice, name="T",
                               content={"subject": "Hi", "html": "<p>Hi</p>"})
    message = message_queue(workspace=acme, template=template, contact=once, source_type=SourceType.CAMPAIGN,
                            source_id="c1")
    Message.objects.filter(pk=message.pk).update(opened_at=now - dt.timedelta(days=3))
    assert emails(acme, {"message": "opened", "within_days": 60}) == {"once@example.test"}
    assert emails(acme, {"message": "clicked"}) == set()
    assert emails(acme, {"message": "opened", "op": "none"}) == {"buyer@example.test", "never@example.test"}


def test_nesting_not_and_text_form(acme):
    make(acme, email="a@example.test", locale="en", lifecycle_stage="customer", attributes={"plan": "pro"})
    make(acme, email="b@example.test", locale="en", lifecycle_stage="lead", attributes={"plan": "free"})
    make(acme, email="c@example.test", locale="de", lifecycle_stage="lead", attributes={"plan": "pro"})
    tree = {"all": [{"field": "locale", "op": "eq", "value": "en"},
                    {"any": [{"attr": "plan", "op": "eq", "value": "pro"},
                             {"not": {"field": "lifecycle_stage", "op": "eq", "value": "customer"}}]}]}
    assert emails(acme, tree) == {"a@example.test", "b@example.test"}
    assert emails(acme, {"not": tree}) == {"c@example.test"}
    assert emails(acme, "language=en") == {"a@example.test", "b@example.test"}
    assert emails(acme, "language=en&plan=pro") == {"a@example.test"}
    assert error(acme, "language=en&colour=red") == "all[1]: unknown field or attribute 'colour'"


def test_segment_of_segment_and_cycles(acme):
    make(acme, email="a@example.test", lifecycle_stage="customer", tags=["vip"])
    make(acme, email="b@example.test", lifecycle_stage="customer")
    customers = Segment.objects.create(workspace=acme, name="Customers",
                                       definition={"field": "lifecycle_stage", "op": "eq", "value": "customer"})
    assert emails(acme, {"all": [{"segment": customers.pk}, {"tag": "vip"}]}) == {"a@example.test"}
    loop = Segment.objects.create(workspace=acme, name="Loop", definition={})
    other = Segment.objects.create(workspace=acme, name="Other", definition={"segment": loop.pk})
    loop.definition = {"all": [{"segment": other.pk}]}
    loop.save()
    assert error(acme, {"segment": loop.pk}) == (
        f"definition→segment {loop.pk}.all[0]→segment {other.pk}: segment {loop.pk} refers back to itself "
        "(a cycle)")
    with pytest.raises(InvalidSegment, match="a cycle"):
        selectors.segment_condition(workspace=acme, definition={"segment": customers.pk}, segment_id=customers.pk)


def test_invalid_conditions_name_their_path(acme, personas):
    assert error(acme, {"all": [{"tag": "x"}, {"any": [{"field": "lang", "op": "eq", "value": "en"}]}]}) == \
        "all[1].any[0]: unknown field 'lang'"
    assert error(acme, {"any": [{"attr": "colour", "op": "eq", "value": "red"}]}) == \
        "any[0]: unknown custom attribute 'colour'"
    assert "is not one of the choices" in error(acme, {"all": [{"attr": "plan", "op": "eq", "value": "gold"}]})
    assert error(acme, {"attr": "seats", "op": "contains", "value": 1}).startswith("definition: operator 'contains'")
    assert error(acme, {"field": "created_at", "op": "within_last"}).startswith("definition: 'days' must be")
    assert error(acme, {"event": "X", "op": "at_least"}).startswith("definition: 'count' must be")
    assert error(acme, {"not": {"tag": ""}}) == "not: 'tag' must be a tag name of 1 to 100 characters"
    assert error(acme, {"all": []}) == "definition: 'all' needs a non-empty list of conditions"
    assert error(acme, {"all": [{"tag": "a", "field": "email"}]}).startswith("all[0]: give exactly one of")
    assert error(acme, [1]).startswith("definition: expected an object")
    assert error(acme, {"field": "lifecycle_stage", "op": "eq", "value": "king"}).startswith("definition: 'king'")
    mallory_segment = Segment.objects.create(workspace=personas.mallory_inc, name="M", definition={"tag": "x"})
    assert error(acme, {"segment": mallory_segment.pk}) == f"definition: no segment {mallory_segment.pk} in this " \
                                                           "workspace"
    deep: Any = {"tag": "x"}
    for _ in range(20):
        deep = {"not": deep}
    assert "nested more than" in error(acme, deep)


def test_counting_a_complex_segment_is_one_query(acme, personas):
    make(acme, email="a@example.test", lifecycle_stage="customer", attributes={"plan": "pro",
                                                                             "channels": ["email"]}, tags=["vip"])
    base = Segment.objects.create(workspace=acme, name="Base", definition={"tag": "vip"})
    tree = {"all": [
        {"field": "lifecycle_stage", "op": "in", "value": ["customer", "lead"]},
        {"any": [{"attr": "plan", "op": "eq", "value": "pro"}, {"attr": "channels", "op": "contains",
                                                                 "value": "email"}]},
        {"not": {"event": "Purchase Completed", "op": "at_least", "count": 2, "within_days": 90}},
        {"event": "Signup", "op": "never"},
        {"message": "opened", "op": "none", "within_days": 60},
        {"field": "created_at", "op": "within_last", "days": 30},
        {"field": "company.industry", "op": "neq", "value": "retail"},
        {"segment": base.pk},
    ]}
    condition = selectors.segment_condition(workspace=acme, definition=tree)
    with CaptureQueriesContext(connection) as queries:
        count = selectors.segment_members(workspace=acme, membership=None, condition=condition).count()
    assert count == 1
    assert len(queries.captured_queries) == 1


def test_other_workspaces_contacts_never_match(acme, personas):
    make(acme, email="a@example.test", tags=["vip"])
    make(personas.mallory_inc, email="m@example.test", tags=["vip"])
    condition = selectors.segment_condition(workspace=acme, definition={"tag": "vip"})
    members = selectors.segment_members(workspace=acme, membership=None, condition=condition)
    assert [c.email for c in members] == ["a@example.test"]


def test_attribute_equality_is_jsonb_containment_on_postgresql_with_the_same_members(acme):
    # Containment lets the GIN index and the planner's estimate serve the segment count (bench/segment_count.py);
    # the members must be exactly those of plain equality, for every scalar type.
    make(acme, email="pro@example.test", attributes={"plan": "pro", "seats": 12, "trial": True,
                                                     "renewal": "2027-01-31", "note": "hello"})
    make(acme, email="free@example.test", attributes={"plan": "free", "seats": 3, "trial": False})
    make(acme, email="bare@example.test")
    for key, value in [("plan", "pro"), ("seats", 12), ("trial", True), ("renewal", "2027-01-31"), ("note", "hello")]:
        assert emails(acme, {"attr": key, "op": "eq", "value": value}) == {"pro@example.test"}, key
        assert emails(acme, {"attr": key, "op": "neq", "value": value}) == {"free@example.test",
                                                                            "bare@example.test"}, key
    condition = selectors.segment_condition(workspace=acme, definition={"attr": "plan", "op": "eq", "value": "pro"})
    sql = str(Contact.objects.filter(condition).query)
    assert ("@>" in sql) == (connection.vendor == "postgresql")
