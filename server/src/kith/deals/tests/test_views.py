import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kith.contacts.models import LeadStatus
from kith.contacts.services import contact_create
from kith.deals import services
from kith.deals.models import Deal, DealStageChange
from kith.deals.tests.conftest import client_for, stage

pytestmark = pytest.mark.django_db


def _deal(personas, pipeline, owner=None, **kwargs):
    kwargs.setdefault("name", "Globex renewal")
    return services.deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline,
                                owner=owner or personas.alice, **kwargs)


def test_the_board_shows_a_column_per_stage_with_count_and_total(personas, sales):
    _deal(personas, sales, name="Globex renewal", value="1000", currency="EUR")
    _deal(personas, sales, name="Initech pilot", value="500", currency="EUR")

    response = client_for(personas.alice).get("/deals/")

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="kith-board-column ') == 6
    assert "Globex renewal" in html and "1,500 EUR" in html
    assert 'draggable="true"' in html and "Move to Proposal" in html


def test_the_board_reads_deals_in_a_fixed_number_of_queries(personas, sales):
    for number in range(40):
        _deal(personas, sales, name=f"deal {number}", stage=sales.stages.all()[number % 4])
    client = client_for(personas.alice)
    client.get("/deals/")  # warm the session and membership caches

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/deals/")

    assert response.status_code == 200
    deal_queries = [q["sql"] for q in queries if 'FROM "deals_deal"' in q["sql"]]
    # one aggregate, one read of the cards, one count/max for the board's live-update version
    assert len(deal_queries) == 3, deal_queries
    assert len(queries) <= 15


def test_restricted_bob_sees_only_his_own_cards(personas, sales, restricted_bob):
    _deal(personas, sales, name="Bob deal", owner=personas.bob)
    _deal(personas, sales, name="Alice deal", owner=personas.alice)

    html = client_for(personas.bob).get("/deals/").content.decode()

    assert "Bob deal" in html and "Alice deal" not in html


def test_a_viewer_sees_the_board_without_move_controls_and_cannot_move(personas, sales, victor):
    deal = _deal(personas, sales)
    client = client_for(victor)

    html = client.get("/deals/").content.decode()
    response = client.post(f"/deals/{deal.pk}/move/", {"stage": stage(sales, "Proposal").pk})

    assert "Globex renewal" in html and 'draggable="true"' not in html
    assert response.status_code == 403
    assert Deal.objects.get(pk=deal.pk).stage.name == "Qualification"


def test_the_move_form_works_without_javascript_and_returns_to_the_board(personas, sales):
    deal = _deal(personas, sales)

    response = client_for(personas.alice).post(f"/deals/{deal.pk}/move/",
                                               {"stage": stage(sales, "Proposal").pk, "next": "/deals/"})

    assert response.status_code == 302 and response["Location"] == "/deals/"
    assert Deal.objects.get(pk=deal.pk).stage.name == "Proposal"


def test_the_board_script_gets_json_and_a_lost_move_needs_a_reason(personas, sales):
    deal = _deal(personas, sales)
    client = client_for(personas.alice)

    refused = client.post(f"/deals/{deal.pk}/move/", {"stage": stage(sales, "Lost").pk},
                          HTTP_ACCEPT="application/json")
    moved = client.post(f"/deals/{deal.pk}/move/", {"stage": stage(sales, "Lost").pk, "lost_reason": "Price"},
                        HTTP_ACCEPT="application/json")

    assert refused.status_code == 400 and "lost" in refused.json()["error"].lower()
    assert moved.status_code == 200 and moved.json()["status"] == "lost"


def test_the_deal_page_shows_fields_history_and_timeline(personas, sales):
    deal = _deal(personas, sales)
    services.deal_move_to_stage(deal=deal, stage=stage(sales, "Proposal"), actor=personas.alice)

    html = client_for(personas.alice).get(f"/deals/{deal.pk}/").content.decode()

    assert "Qualification → Proposal" in html and "Created in Qualification" in html
    assert "Globex renewal: Qualification → Proposal" in html


def test_creating_and_editing_a_deal_through_the_forms(personas, sales):
    client = client_for(personas.alice)

    created = client.post("/deals/new/", {"name": "Hooli", "pipeline": sales.pk, "value": "20", "currency": "usd",
                                          "owner": personas.bob.pk})
    deal = Deal.objects.get(name="Hooli")
    edited = client.post(f"/deals/{deal.pk}/edit/", {"name": "Hooli XL", "value": "30", "currency": "EUR"})
    bad = client.post(f"/deals/{deal.pk}/edit/", {"name": "Hooli", "currency": "XXZ"})

    assert created.status_code == 302 and deal.owner == personas.bob
    assert edited.status_code == 302
    deal.refresh_from_db()
    assert (deal.name, deal.currency, str(deal.value)) == ("Hooli XL", "EUR", "30.00")
    assert bad.status_code == 400 and "ISO 4217" in bad.content.decode()


def test_the_list_view_filters_like_the_api(personas, sales):
    _deal(personas, sales, name="Globex renewal")
    _deal(personas, sales, name="Initech pilot", owner=personas.bob)

    html = client_for(personas.alice).get("/deals/list/", {"owner": personas.bob.pk}).content.decode()

    assert "Initech pilot" in html and "Globex renewal" not in html


def test_converting_a_lead_from_its_page_opens_the_new_deal(personas, sales):
    lead = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})
    client = client_for(personas.alice)

    assert client.get(f"/deals/convert/{lead.pk}/").status_code == 200
    response = client.post(f"/deals/convert/{lead.pk}/", {"deal_name": "Globex pilot", "value": "100"})

    deal = Deal.objects.get(name="Globex pilot")
    assert response.status_code == 302 and response["Location"] == f"/deals/{deal.pk}/"
    lead.refresh_from_db()
    assert lead.lead_status == LeadStatus.CONVERTED
    assert DealStageChange.objects.filter(deal=deal).count() == 1


def test_the_board_version_changes_when_a_visible_deal_moves_or_goes(personas, sales):
    deal = _deal(personas, sales)
    client = client_for(personas.alice)
    url = f"/deals/board-version/?pipeline={sales.pk}"
    first = client.get(url).json()["version"]
    assert client.get(url).json()["version"] == first
    assert f'data-version="{first}"' in client.get("/deals/").content.decode()

    services.deal_move_to_stage(deal=deal, stage=stage(sales, "Proposal"), actor=personas.alice)
    moved = client.get(url).json()["version"]
    services.deal_delete(deal=Deal.objects.get(pk=deal.pk), actor=personas.alice)
    gone = client.get(url).json()["version"]

    assert len({first, moved, gone}) == 3


def test_the_board_version_of_another_workspace_s_pipeline_is_not_found(personas, sales):
    client = client_for(personas.mallory)

    assert client.get(f"/deals/board-version/?pipeline={sales.pk}").status_code == 404
    assert client.get("/deals/board-version/?pipeline=nope").status_code == 404


def test_a_restricted_rep_s_version_ignores_deals_he_cannot_see(personas, sales, restricted_bob):
    _deal(personas, sales, name="Bob deal", owner=personas.bob)
    alices = _deal(personas, sales, name="Alice deal", owner=personas.alice)
    client = client_for(personas.bob)
    url = f"/deals/board-version/?pipeline={sales.pk}"
    before = client.get(url).json()["version"]

    services.deal_update(deal=alices, actor=personas.alice, changes={"name": "Alice's big deal"})

    assert client.get(url).json()["version"] == before
