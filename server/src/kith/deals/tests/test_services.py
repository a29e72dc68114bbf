from decimal import Decimal

import pytest

from kith.contacts.errors import InvalidFields
from kith.contacts.models import Company, Contact, LeadStatus, LifecycleStage
from kith.contacts.services import contact_create
from kith.core.errors import Conflict
from kith.core.models import AuditEntry
from kith.deals import services
from kith.deals.models import Deal, DealStageChange, DealStatus, Pipeline, StageKind
from kith.deals.tests.conftest import stage
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def _deal(personas, pipeline, **kwargs):
    kwargs.setdefault("name", "Globex renewal")
    return services.deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, **kwargs)


def test_a_new_pipeline_gets_the_default_stages_and_the_first_is_the_default(personas, sales):
    second = services.pipeline_create(workspace=personas.acme, actor=personas.alice, name="Renewals")

    assert [s.name for s in sales.stages.all()] == [s.name for s in services.DEFAULT_STAGES]
    assert sales.is_default and not second.is_default
    assert AuditEntry.objects.filter(action="pipeline.created").count() == 2


def test_making_another_pipeline_the_default_takes_the_flag_from_the_first(personas, sales):
    second = services.pipeline_create(workspace=personas.acme, actor=personas.alice, name="Renewals")

    services.pipeline_update(pipeline=second, actor=personas.alice, is_default=True)

    assert list(Pipeline.objects.filter(is_default=True)) == [second]


def test_a_new_deal_lands_in_the_first_stage_with_a_history_row_and_a_timeline_entry(personas, sales):
    deal = _deal(personas, sales, value="1500.5", currency="eur")

    assert deal.stage.name == "Qualification" and deal.status == DealStatus.OPEN
    assert deal.value == Decimal("1500.50") and deal.currency == "EUR"
    assert DealStageChange.objects.get(deal=deal).from_stage is None
    assert Activity.objects.filter(deal=deal, kind=ActivityKind.STAGE_CHANGED).count() == 1


def test_a_currency_that_is_not_iso_4217_is_refused(personas, sales):
    with pytest.raises(InvalidFields) as error:
        _deal(personas, sales, currency="EUX")

    assert "currency" in error.value.errors
    assert not Deal.objects.exists()


def test_moving_a_deal_keeps_stage_history_and_writes_the_timeline_on_deal_and_contact(personas, sales):
    contact = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})
    deal = _deal(personas, sales, contact=contact)

    services.deal_move_to_stage(deal=deal, stage=stage(sales, "Proposal"), actor=personas.alice)
    services.deal_move_to_stage(deal=deal, stage=stage(sales, "Negotiation"), actor=personas.bob)

    history = list(DealStageChange.objects.filter(deal=deal).order_by("id").values_list(
        "from_stage_name", "to_stage_name", "changed_by__email"))
    assert history == [("", "Qualification", "alice@acme.test"), ("Qualification", "Proposal", "alice@acme.test"),
                       ("Proposal", "Negotiation", "bob@acme.test")]
    assert Activity.objects.filter(contact=contact, deal=deal, kind=ActivityKind.STAGE_CHANGED).count() == 3
    assert AuditEntry.objects.filter(action="deal.stage_changed", target_id=str(deal.pk)).count() == 2


def test_moving_to_won_closes_the_deal_and_moving_back_reopens_it(personas, sales):
    deal = _deal(personas, sales)

    won = services.deal_move_to_stage(deal=deal, stage=stage(sales, "Won"), actor=personas.alice)
    assert won.status == DealStatus.WON and won.closed_at is not None

    reopened = services.deal_move_to_stage(deal=deal, stage=stage(sales, "Proposal"), actor=personas.alice)
    assert reopened.status == DealStatus.OPEN and reopened.closed_at is None


def test_moving_to_lost_without_a_reason_is_refused_and_changes_nothing(personas, sales):
    deal = _deal(personas, sales)

    with pytest.raises(InvalidFields) as error:
        services.deal_move_to_stage(deal=deal, stage=stage(sales, "Lost"), actor=personas.alice)

    assert "lost_reason" in error.value.errors
    deal.refresh_from_db()
    assert deal.stage.name == "Qualification" and deal.status == DealStatus.OPEN
    assert DealStageChange.objects.filter(deal=deal).count() == 1


def test_moving_to_lost_with_a_reason_closes_the_deal_as_lost(personas, sales):
    deal = services.deal_move_to_stage(deal=_deal(personas, sales), stage=stage(sales, "Lost"),
                                       actor=personas.alice, lost_reason="Budget cut")

    assert (deal.status, deal.lost_reason) == (DealStatus.LOST, "Budget cut")
    assert deal.closed_at is not None


def test_a_deal_cannot_move_to_a_stage_of_another_pipeline(personas, sales):
    other = services.pipeline_create(workspace=personas.acme, actor=personas.alice, name="Renewals")
    deal = _deal(personas, sales)

    with pytest.raises(InvalidFields):
        services.deal_move_to_stage(deal=deal, stage=other.stages.first(), actor=personas.alice)


def test_moving_to_a_position_puts_the_card_there_and_renumbers_the_column(personas, sales):
    proposal = stage(sales, "Proposal")
    for name in "abc":
        _deal(personas, sales, name=name, stage=proposal)
    mover = _deal(personas, sales, name="mover")

    services.deal_move_to_stage(deal=mover, stage=proposal, actor=personas.alice, position=1)

    assert list(Deal.objects.filter(stage=proposal).order_by("position").values_list("name", flat=True)) == [
        "a", "mover", "b", "c"]


def test_setting_the_status_explicitly_closes_the_deal_where_it_stands(personas, sales):
    deal = _deal(personas, sales)

    with pytest.raises(InvalidFields):
        services.deal_update(deal=deal, actor=personas.alice, changes={"status": "lost"})
    lost = services.deal_update(deal=deal, actor=personas.alice, changes={"status": "lost", "lost_reason": "Gone"})

    assert lost.status == DealStatus.LOST and lost.stage.name == "Qualification" and lost.closed_at is not None
    entry = AuditEntry.objects.get(action="deal.updated")
    assert entry.after["status"] == "lost" and "name" not in entry.after


def test_deleting_a_stage_with_deals_is_refused_unless_they_move(personas, sales):
    proposal, negotiation = stage(sales, "Proposal"), stage(sales, "Negotiation")
    deal = _deal(personas, sales, stage=proposal)

    with pytest.raises(Conflict):
        services.stage_delete(stage=proposal, actor=personas.alice)
    services.stage_delete(stage=proposal, actor=personas.alice, move_deals_to=negotiation)

    deal.refresh_from_db()
    assert deal.stage == negotiation
    assert DealStageChange.objects.filter(deal=deal, to_stage=negotiation, from_stage_name="Proposal").exists()
    assert not sales.stages.filter(name="Proposal").exists()


def test_stages_can_be_added_renamed_and_reordered(personas, sales):
    added = services.stage_add(pipeline=sales, actor=personas.alice, name="Demo", win_probability=50)
    services.stage_update(stage=added, actor=personas.alice, name="Live demo", kind=StageKind.OPEN)
    ids = list(sales.stages.values_list("id", flat=True))

    services.stage_reorder(pipeline=sales, actor=personas.alice, stage_ids=[added.pk, *ids[:-1]])

    assert sales.stages.order_by("position").first().name == "Live demo"
    with pytest.raises(InvalidFields):
        services.stage_reorder(pipeline=sales, actor=personas.alice, stage_ids=ids[:2])


def test_a_pipeline_with_deals_cannot_be_deleted(personas, sales):
    _deal(personas, sales)

    with pytest.raises(Conflict):
        services.pipeline_delete(pipeline=sales, actor=personas.alice)


# --- lead conversion -----------------------------------------------------------------------------------------
def test_converting_a_lead_links_the_company_of_its_domain_opens_a_deal_and_marks_the_contact(personas, sales):
    lead = contact_create(workspace=personas.acme, actor=personas.alice,
                          data={"email": "dana@globex.test", "first_name": "Dana"})

    deal = services.lead_convert(workspace=personas.acme, contact=lead, actor=personas.alice, value=Decimal(900))

    lead.refresh_from_db()
    company = Company.objects.get(workspace=personas.acme, domain="globex.test")
    assert (lead.lead_status, lead.lifecycle_stage, lead.company) == (
        LeadStatus.CONVERTED, LifecycleStage.OPPORTUNITY, company)
    assert (deal.pipeline, deal.stage.name, deal.contact, deal.company, deal.value) == (
        sales, "Qualification", lead, company, Decimal("900.00"))
    assert AuditEntry.objects.filter(action="lead.converted", target_id=str(lead.pk)).exists()
    with pytest.raises(Conflict):
        services.lead_convert(workspace=personas.acme, contact=lead, actor=personas.alice)


def test_a_freemail_lead_gets_a_company_only_when_one_is_named(personas, sales):
    lead = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "sam@gmail.com"})

    deal = services.lead_convert(workspace=personas.acme, contact=lead, actor=personas.alice, company_name="Sam Co")

    assert deal.company.name == "Sam Co" and deal.company.domain == ""


def test_a_conversion_that_fails_half_way_leaves_nothing_behind(personas, sales, monkeypatch):
    lead = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})
    audit_rows = AuditEntry.objects.count()

    def broken_update(**kwargs):
        raise InvalidFields({"lead_status": ["Simulated failure after the deal was created."]})

    monkeypatch.setattr("kith.deals.services.conversion.contact_services.contact_update", broken_update)
    with pytest.raises(InvalidFields):
        services.lead_convert(workspace=personas.acme, contact=lead, actor=personas.alice)

    lead.refresh_from_db()
    assert lead.lead_status == LeadStatus.NEW and lead.company is None
    assert not Deal.objects.exists() and not Company.objects.exists()
    assert AuditEntry.objects.count() == audit_rows
    assert Contact.objects.count() == 1


def test_converting_without_any_pipeline_creates_the_default_one(personas):
    lead = contact_create(workspace=personas.acme, actor=personas.alice, data={"email": "dana@globex.test"})

    deal = services.lead_convert(workspace=personas.acme, contact=lead, actor=personas.alice, deal_name="Pilot")

    assert deal.pipeline.is_default and deal.name == "Pilot"
