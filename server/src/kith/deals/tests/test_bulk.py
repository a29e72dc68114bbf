"""Bulk create/update of deals: POST /api/v1/deals/bulk/ and ``deal_bulk_write``."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts.bulk import MAX_BULK_ITEMS
from kith.contacts.errors import InvalidFields
from kith.contacts.tests.factories import CompanyFactory, ContactFactory
from kith.core.models import AuditEntry
from kith.deals import services
from kith.deals.models import Deal, DealStageChange, DealStatus
from kith.deals.services import deal_bulk_write
from kith.deals.tests.conftest import client_for, stage
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db
URL = "/api/v1/deals/bulk/"


def _deal(personas, pipeline, **kwargs):
    kwargs.setdefault("name", "Globex renewal")
    kwargs.setdefault("owner", personas.alice)
    return services.deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, **kwargs)


def test_creates_and_updates_follow_the_single_deal_rules(personas, sales):
    contact = ContactFactory(workspace=personas.acme)
    company = CompanyFactory(workspace=personas.acme)
    proposal, won = stage(sales, "Proposal"), stage(sales, "Won")
    existing = _deal(personas, sales, name="Existing")
    other = _deal(personas, sales, name="Other")
    third = _deal(personas, sales, name="Third")
    audited_before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first()

    results = deal_bulk_write(workspace=personas.acme, actor=personas.alice, items=[
        {"name": "New", "value": Decimal("1500.50"), "currency": "eur", "contact": contact.pk, "company": company.pk,
         "owner": personas.bob.pk, "expected_close_date": dt.date(2026, 12, 31)},
        {"name": "Straight to won", "stage": won.pk},
        {"id": existing.pk, "status": "lost", "lost_reason": "Budget cut"},
        {"id": other.pk, "name": "Other"},  # as stored
        {"name": "Lost without a reason", "stage": stage(sales, "Lost").pk},
        {"id": existing.pk, "name": "again"},  # item 2 names it
        {"name": ""},
        {"name": "Bad refs", "contact": 999_999, "owner": personas.mallory.pk, "stage": 999_999},
        {"id": third.pk, "stage": proposal.pk},  # stages change through /move/
        {"id": 999_999, "name": "Ghost"},
        {"name": "Too much", "value": Decimal("1e15")},
    ])

    assert [r.status for r in results] == ["created", "created", "updated", "unchanged", "error", "error", "error",
                                           "error", "error", "error", "error"]
    assert results[4].errors == {"lost_reason": ["Say why the deal was lost."]}
    assert "Item 2" in results[5].errors["id"][0]
    assert set(results[6].errors) == {"name"}
    assert set(results[7].errors) == {"contact", "owner"}  # the stage is checked once the references resolve
    assert results[8].errors == {"stage": ["Move a deal with POST /api/v1/deals/{id}/move/."]}
    assert results[9].errors == {"id": ["No such deal."]} and set(results[10].errors) == {"value"}

    new = Deal.objects.get(pk=results[0].id)
    assert (new.pipeline_id, new.stage.name, new.currency, new.value, new.owner_id, new.contact_id) == (
        sales.pk, "Qualification", "EUR", Decimal("1500.50"), personas.bob.pk, contact.pk)
    closed = Deal.objects.get(pk=results[1].id)
    assert closed.status == DealStatus.WON and closed.closed_at is not None
    existing.refresh_from_db()
    assert (existing.status, existing.lost_reason) == (DealStatus.LOST, "Budget cut") and existing.closed_at
    # What deal_create writes for each new deal: first history row, a timeline entry, an audit row.
    for deal in (new, closed):
        assert DealStageChange.objects.filter(deal=deal, from_stage=None, to_stage=deal.stage).count() == 1
        assert Activity.objects.filter(deal=deal, kind=ActivityKind.STAGE_CHANGED,
                                       title=f"Deal created in {deal.stage.name}").count() == 1
    assert Activity.objects.get(deal=new).contact_id == contact.pk
    actions = list(AuditEntry.objects.filter(id__gt=audited_before).values_list("action", flat=True))
    assert sorted(actions) == ["deal.created", "deal.created", "deal.updated"]  # nothing for the unchanged one
    assert Deal.objects.filter(workspace=personas.acme).count() == 5
    assert Deal.objects.get(pk=third.pk).stage.name == "Qualification"


def test_new_cards_go_to_the_end_of_their_columns_in_request_order(personas, sales):
    first = stage(sales, "Qualification")
    _deal(personas, sales, name="Already there")
    results = deal_bulk_write(workspace=personas.acme, actor=personas.alice,
                              items=[{"name": f"D{n}"} for n in range(3)])
    positions = [Deal.objects.get(pk=r.id).position for r in results]
    top = Deal.objects.get(name="Already there").position
    assert positions == [top + 1, top + 2, top + 3]
    assert all(Deal.objects.get(pk=r.id).stage_id == first.pk for r in results)


def test_an_external_id_makes_a_repeated_sync_create_nothing(personas, sales):
    items = [{"external_id": f"crm-{n}", "name": f"Deal {n}", "value": Decimal(n * 100)} for n in range(4)]
    first = deal_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)
    again = deal_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)
    changed = deal_bulk_write(workspace=personas.acme, actor=personas.alice,
                              items=[{"external_id": "crm-1", "name": "Deal 1, renamed"},
                                     {"external_id": "crm-1", "value": Decimal(5)}])

    assert {r.status for r in first} == {"created"} and {r.status for r in again} == {"unchanged"}
    assert [r.id for r in first] == [r.id for r in again]
    assert [r.status for r in changed] == ["updated", "error"] and "Item 0" in changed[1].errors["external_id"][0]
    assert Deal.objects.get(external_id="crm-1").name == "Deal 1, renamed"
    assert Deal.objects.filter(workspace=personas.acme).count() == 4


def test_the_writes_are_set_based(personas, sales):
    contact = ContactFactory(workspace=personas.acme)

    def queries_for(size: int) -> int:
        items = [{"name": f"D{n}", "contact": contact.pk, "owner": personas.alice.pk} for n in range(size)]
        with CaptureQueriesContext(connection) as queries:
            deal_bulk_write(workspace=personas.acme, actor=personas.alice, items=items)
        return len(queries)

    # No query per item: 20 times the items cost only the statements SQLite's parameter limit splits INSERTs into.
    small, big = queries_for(10), queries_for(200)
    assert big <= small + 8, (small, big)


def test_more_than_the_limit_is_refused_as_a_whole(personas, sales, alice_api):
    with pytest.raises(InvalidFields):
        deal_bulk_write(workspace=personas.acme, actor=personas.alice, items=[{"name": "x"}] * (MAX_BULK_ITEMS + 1))
    response = alice_api.post(URL, {"items": [{"name": "x"}] * (MAX_BULK_ITEMS + 1)}, format="json")
    assert response.status_code == 400 and "items" in response.json()["error"]["fields"]
    assert not Deal.objects.exists()


def test_the_endpoint_defaults_the_owner_and_honours_an_idempotency_key(personas, sales, bob_api):
    payload = {"items": [{"name": "Bob's deal", "value": "250.00"}, {"name": "Nope", "pipeline": 999_999}]}

    first = bob_api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="deals-1")
    again = bob_api.post(URL, payload, format="json", HTTP_IDEMPOTENCY_KEY="deals-1")

    assert first.status_code == 200, first.content
    body = first.json()
    assert (body["created"], body["errors"]) == (1, 1)
    assert body["results"][1]["errors"] == {"pipeline": ["No such pipeline in this workspace."]}
    assert Deal.objects.get(pk=body["results"][0]["id"]).owner_id == personas.bob.pk
    assert again.json() == body and again["Idempotent-Replayed"] == "true"
    assert Deal.objects.filter(workspace=personas.acme).count() == 1
    assert bob_api.post(URL, {"items": [{"name": 5}]}, format="json").status_code == 400


def test_a_restricted_rep_updates_only_his_deals_and_a_viewer_none(personas, sales, restricted_bob, victor):
    alices = _deal(personas, sales, name="Alice's")
    Deal.objects.filter(pk=alices.pk).update(external_id="crm-alice")
    bobs = _deal(personas, sales, name="Bob's", owner=personas.bob)
    foreign_contact = ContactFactory(workspace=personas.acme, owner=personas.alice)
    bob = client_for(personas.bob)

    body = bob.post(URL, {"items": [
        {"id": alices.pk, "name": "Mine now"},
        {"external_id": "crm-alice", "name": "Mine now"},
        {"id": bobs.pk, "value": "99.00"},
        {"name": "Linked to a hidden contact", "contact": foreign_contact.pk},
    ]}, format="json").json()

    assert [r["status"] for r in body["results"]] == ["error", "error", "updated", "error"]
    assert body["results"][0]["errors"] == {"id": ["No such deal."]}
    assert body["results"][3]["errors"] == {"contact": ["No such contact in this workspace."]}
    assert Deal.objects.get(pk=alices.pk).name == "Alice's"

    viewer = client_for(victor)
    assert viewer.post(URL, {"items": [{"name": "Nope"}]}, format="json").status_code == 403
    assert not Deal.objects.filter(name="Nope").exists()
