import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts.services import contact_create
from kith.deals import services
from kith.deals.models import Deal, DealStageChange
from kith.deals.tests.conftest import client_for, stage

pytestmark = pytest.mark.django_db


def _deal(personas, pipeline, owner=None, **kwargs):
    kwargs.setdefault("name", "Globex renewal")
    return services.deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline,
                                owner=owner or personas.alice, **kwargs)


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_posting_move_moves_the_deal_and_records_the_history(personas, sales, alice_api):
    deal = _deal(personas, sales)
    proposal = stage(sales, "Proposal")

    response = alice_api.post(f"/api/v1/deals/{deal.pk}/move/", {"stage": proposal.pk, "position": 0},
                              format="json")

    assert response.status_code == 200, response.content
    assert response.json()["stage"] == proposal.pk and response.json()["stage_name"] == "Proposal"
    assert DealStageChange.objects.filter(deal=deal, to_stage=proposal).exists()


def test_moving_to_lost_without_a_reason_answers_400_naming_lost_reason(personas, sales, alice_api):
    deal = _deal(personas, sales)

    response = alice_api.post(f"/api/v1/deals/{deal.pk}/move/", {"stage": stage(sales, "Lost").pk}, format="json")

    assert response.status_code == 400
    assert "lost_reason" in response.json()["error"]["fields"]


def test_moving_to_a_stage_of_another_workspace_is_a_400(personas, sales, alice_api):
    theirs = services.pipeline_create(workspace=personas.mallory_inc, actor=personas.mallory, name="Evil")
    deal = _deal(personas, sales)

    response = alice_api.post(f"/api/v1/deals/{deal.pk}/move/", {"stage": theirs.stages.first().pk},
                              format="json")

    assert response.status_code == 400
    assert "stage" in response.json()["error"]["fields"]


def test_a_viewer_can_read_deals_but_not_move_them(personas, sales, victor):
    deal = _deal(personas, sales)
    client = client_for(victor)

    assert client.get("/api/v1/deals/").status_code == 200
    response = client.post(f"/api/v1/deals/{deal.pk}/move/", {"stage": stage(sales, "Proposal").pk},
                           format="json")

    assert response.status_code == 403
    deal.refresh_from_db()
    assert deal.stage.name == "Qualification"


def test_restricted_bob_sees_and_moves_only_his_own_deals(personas, sales, restricted_bob, bob_api):
    his = _deal(personas, sales, owner=personas.bob, name="Bob's")
    hers = _deal(personas, sales, owner=personas.alice, name="Alice's")

    assert _ids(bob_api.get("/api/v1/deals/")) == [his.pk]
    assert bob_api.get(f"/api/v1/deals/{hers.pk}/").status_code == 404
    moved = bob_api.post(f"/api/v1/deals/{hers.pk}/move/", {"stage": stage(sales, "Proposal").pk}, format="json")
    assert moved.status_code == 404


def test_creating_a_deal_defaults_to_the_default_pipeline_and_the_creator_as_owner(personas, sales, bob_api):
    response = bob_api.post("/api/v1/deals/", {"name": "New", "value": "10.00", "currency": "eur"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["pipeline"], body["owner"], body["currency"], body["status"]) == (
        sales.pk, personas.bob.pk, "EUR", "open")


def test_the_deal_list_filters_by_stage_status_owner_contact_and_close_date(personas, sales, alice_api):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})
    early = _deal(personas, sales, name="early", expected_close_date=dt.date(2026, 1, 10), contact=contact)
    late = _deal(personas, sales, name="late", owner=personas.bob, expected_close_date=dt.date(2026, 6, 1))
    won = services.deal_move_to_stage(deal=_deal(personas, sales, name="won"), stage=stage(sales, "Won"),
                                      actor=personas.alice)

    assert _ids(alice_api.get("/api/v1/deals/", {"status": "won"})) == [won.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"owner": personas.bob.pk})) == [late.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"contact": contact.pk})) == [early.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"stage": stage(sales, "Won").pk})) == [won.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"expected_close_after": "2026-03-01"})) == [late.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"expected_close_before": "2026-03-01"})) == [early.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"search": "ear"})) == [early.pk]
    assert _ids(alice_api.get("/api/v1/deals/", {"ordering": "name"})) == [early.pk, late.pk, won.pk]
    assert alice_api.get("/api/v1/deals/", {"status": "maybe"}).status_code == 400


def test_the_deal_list_takes_a_bounded_number_of_queries(personas, sales, alice_api):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})
    for number in range(30):
        _deal(personas, sales, name=f"deal {number}", contact=contact)

    with CaptureQueriesContext(connection) as queries:
        response = alice_api.get("/api/v1/deals/", {"page_size": 30})

    assert len(_ids(response)) == 30
    assert len(queries) <= 10, [q["sql"] for q in queries]


def test_pipelines_list_their_stages_in_order_and_managers_change_them(personas, sales, alice_api, bob_api):
    listed = alice_api.get("/api/v1/pipelines/").json()["results"]
    assert [s["name"] for s in listed[0]["stages"]][:2] == ["Qualification", "Needs analysis"]

    assert bob_api.post("/api/v1/stages/", {"pipeline": sales.pk, "name": "Demo"}, format="json").status_code == 403
    created = alice_api.post("/api/v1/stages/", {"pipeline": sales.pk, "name": "Demo", "win_probability": 40},
                             format="json")
    assert created.status_code == 201, created.content
    ids = [s["id"] for s in listed[0]["stages"]] + [created.json()["id"]]
    reordered = alice_api.post(f"/api/v1/pipelines/{sales.pk}/reorder-stages/", {"stages": ids[::-1]},
                               format="json")
    assert [s["id"] for s in reordered.json()["stages"]] == ids[::-1]


def test_deleting_a_stage_with_deals_needs_a_target(personas, sales, alice_api):
    proposal = stage(sales, "Proposal")
    deal = _deal(personas, sales, stage=proposal)

    assert alice_api.delete(f"/api/v1/stages/{proposal.pk}/").status_code == 409
    moved = alice_api.delete(f"/api/v1/stages/{proposal.pk}/?move_deals_to={stage(sales, 'Negotiation').pk}")

    assert moved.status_code == 204, moved.content
    assert Deal.objects.get(pk=deal.pk).stage.name == "Negotiation"


def test_lead_conversion_endpoint_opens_a_deal(personas, sales, alice_api):
    lead = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})

    response = alice_api.post("/api/v1/lead-conversions/", {"contact": lead.pk, "value": "250"}, format="json")
    again = alice_api.post("/api/v1/lead-conversions/", {"contact": lead.pk}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["contact"] == lead.pk and response.json()["company"] is not None
    assert again.status_code == 409
