"""Merging duplicate contacts and undoing it (``kith.contacts.services.merge``), on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.db import models

from kith.accounts.models import Membership
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Contact, ContactMerge, ContactTag, DuplicateDismissal
from kith.contacts.services import (
    contact_create,
    contact_delete,
    contact_merge,
    contact_merge_undo,
    contact_update,
    merge_undo_blocker,
)
from kith.contacts.services._relations import contact_relations
from kith.contacts.tests.factories import ContactFactory
from kith.core.errors import Conflict, NotFound, PermissionDenied
from kith.core.models import AuditEntry
from kith.deals.models import Deal
from kith.deals.services import deal_create, pipeline_create
from kith.messaging.models import Message, SourceType
from kith.messaging.services import message_queue, template_create
from kith.timeline.models import Activity, ActivityKind
from kith.timeline.services import activity_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(personas: Any) -> tuple[Contact, Contact]:
    """Dana twice: the record sales made (winner) and the one a sign-up created (loser), each with a history."""
    acme, alice = personas.acme, personas.alice
    winner = contact_create(workspace=acme, actor=alice, tags=["vip", "newsletter"],
                            data={"first_name": "Dana", "last_name": "Lee", "email": "dana@acme-customer.test",
                                  "attributes": {}, "lifecycle_stage": "opportunity"})
    loser = contact_create(workspace=acme, actor=alice, tags=["newsletter", "trial"],
                           data={"first_name": "Dana", "email": "dana.lee@gmail.com", "phone": "+14155550123",
                                 "email_consent": "opted_out", "source": "signup"})
    for contact, title in ((winner, "Called Dana"), (loser, "Signed up"), (loser, "Opened welcome mail")):
        activity_record(workspace=acme, kind=ActivityKind.NOTE, title=title, contact=contact, actor=alice)
    pipeline = pipeline_create(workspace=acme, actor=alice, name="Sales")
    deal_create(workspace=acme, actor=alice, pipeline=pipeline, name="Dana renewal", contact=winner)
    deal_create(workspace=acme, actor=alice, pipeline=pipeline, name="Dana upsell", contact=loser)
    template = template_create(workspace=acme, actor=alice, name="Welcome",
                               content={"subject": "Hi", "html": "<p>Hi</p>"})
    for contact in (winner, loser):  # the same campaign reached both records: the ledger allows one per contact
        message_queue(workspace=acme, template=template, contact=contact, source_type=SourceType.CAMPAIGN,
                      source_id="spring-campaign")
    message_queue(workspace=acme, template=template, contact=loser, source_type=SourceType.CAMPAIGN,
                  source_id="summer-campaign")
    return winner, loser


def _state(*contacts: Contact) -> dict[str, Any]:
    """Everything a merge touches, per contact id, excluding the merge's own timeline entries."""
    state: dict[str, Any] = {}
    for contact in contacts:
        row = Contact.objects.filter(pk=contact.pk).values().first()
        state[f"contact {contact.pk}"] = row
        state[f"tags {contact.pk}"] = sorted(ContactTag.objects.filter(contact_id=contact.pk)
                                             .values_list("pk", "tag_id", "created_at"))
        state[f"activities {contact.pk}"] = sorted(Activity.objects.filter(contact_id=contact.pk)
                                                   .exclude(kind=ActivityKind.MERGED).values_list("pk", "title"))
        state[f"deals {contact.pk}"] = sorted(Deal.objects.filter(contact_id=contact.pk).values_list("pk", "name"))
        state[f"messages {contact.pk}"] = sorted(Message.objects.filter(contact_id=contact.pk)
                                                 .values_list("pk", "source_id", "status", "queued_at"))
    return state


def test_merge_keeps_every_timeline_entry_deal_tag_and_message_on_the_winner(personas, pair):
    winner, loser = pair
    activities = set(Activity.objects.filter(contact__in=pair).values_list("pk", flat=True))
    deals = set(Deal.objects.filter(contact__in=pair).values_list("pk", flat=True))

    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)

    assert not Contact.objects.filter(pk=loser.pk).exists()
    assert activities <= set(Activity.objects.filter(contact=winner).values_list("pk", flat=True))
    assert set(Deal.objects.filter(contact=winner).values_list("pk", flat=True)) == deals
    assert set(winner.tags.values_list("name", flat=True)) == {"vip", "newsletter", "trial"}
    assert sorted(Message.objects.filter(contact=winner).values_list("source_id", flat=True)) == [
        "spring-campaign", "summer-campaign"]
    # The loser's spring message could not join the winner's (one per campaign and contact): kept in the record.
    kept = [row for row in merge.set_aside if row["model"] == "messaging.message"]
    assert [row["fields"]["source_id"] for row in kept] == ["spring-campaign"]
    assert [row["model"] for row in merge.set_aside if row["model"] == "contacts.contacttag"] == [
        "contacts.contacttag"]
    assert Activity.objects.filter(contact=winner, kind=ActivityKind.MERGED, data__merge_id=merge.pk).exists()
    audit = AuditEntry.objects.get(action="contact.merged")
    assert audit.target_id == str(winner.pk) and audit.before["merged"]["email"] == "dana.lee@gmail.com"


def test_merge_fills_empty_fields_keeps_opt_out_and_unions_attributes(personas, pair):
    winner, loser = pair
    Contact.objects.filter(pk=winner.pk).update(attributes={"plan": "pro"})
    Contact.objects.filter(pk=loser.pk).update(attributes={"plan": "free", "seats": 3})
    winner.refresh_from_db()

    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)

    winner.refresh_from_db()
    assert (winner.first_name, winner.last_name, winner.email) == ("Dana", "Lee", "dana@acme-customer.test")
    assert winner.phone == "+14155550123"  # empty on the winner: filled
    assert winner.email_consent == "opted_out"  # an opt-out on either record wins
    assert winner.lifecycle_stage == "opportunity" and winner.source == "signup"
    assert winner.attributes == {"plan": "pro", "seats": 3}
    assert merge.winner_changes["phone"] == {"old": "", "new": "+14155550123"}


def test_chosen_fields_come_from_the_loser_even_the_unique_email(personas, pair):
    winner, loser = pair
    contact_merge(winner=winner, loser=loser, actor=personas.alice,
                  field_choices={"email": "loser", "lifecycle_stage": "loser", "attributes": "loser"})
    winner.refresh_from_db()
    assert winner.email == "dana.lee@gmail.com" and winner.lifecycle_stage == "lead"


def test_undo_restores_the_exact_prior_state(personas, pair):
    winner, loser = pair
    DuplicateDismissal.objects.create(workspace=personas.acme, contact_low=winner, contact_high=loser)
    before = _state(winner, loser)

    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice, field_choices={"email": "loser"})
    assert _state(winner, loser) != before
    restored = contact_merge_undo(merge=merge, actor=personas.alice)

    assert restored.pk == loser.pk
    assert _state(winner, loser) == before
    assert DuplicateDismissal.objects.filter(contact_low=winner, contact_high=loser).exists()
    merge.refresh_from_db()
    assert merge.is_undone and merge.undone_by == personas.alice
    assert merge_undo_blocker(merge) == "This merge has already been undone."
    with pytest.raises(Conflict):
        contact_merge_undo(merge=merge, actor=personas.alice)


def test_undo_keeps_a_winner_field_edited_after_the_merge(personas, pair):
    winner, loser = pair
    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)
    contact_update(contact=winner, actor=personas.alice, data={"phone": "+14155559999"})
    contact_merge_undo(merge=merge, actor=personas.alice)
    winner.refresh_from_db()
    assert winner.phone == "+14155559999"
    assert Contact.objects.get(pk=loser.pk).phone == "+14155550123"


def test_rows_moved_elsewhere_after_the_merge_stay_where_they_are(personas, pair):
    winner, loser = pair
    upsell = Deal.objects.get(name="Dana upsell")
    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)
    other = ContactFactory(workspace=personas.acme)
    Deal.objects.filter(pk=upsell.pk).update(contact=other)
    contact_merge_undo(merge=merge, actor=personas.alice)
    assert Deal.objects.get(pk=upsell.pk).contact_id == other.pk


def test_undo_is_refused_when_the_winner_was_deleted_or_merged_away(personas, pair):
    winner, loser = pair
    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)
    third = ContactFactory(workspace=personas.acme)
    second = contact_merge(winner=third, loser=winner, actor=personas.alice)
    merge.refresh_from_db()
    with pytest.raises(Conflict, match="merged into another"):
        contact_merge_undo(merge=merge, actor=personas.alice)
    # Undoing the later merge first brings the winner back, and then the first merge can be undone too.
    contact_merge_undo(merge=second, actor=personas.alice)
    merge.refresh_from_db()
    assert merge.winner_id == winner.pk
    contact_merge_undo(merge=merge, actor=personas.alice)
    contact_delete(contact=Contact.objects.get(pk=winner.pk), actor=personas.alice)
    fresh = ContactFactory(workspace=personas.acme)
    again = contact_merge(winner=fresh, loser=Contact.objects.get(pk=loser.pk), actor=personas.alice)
    contact_delete(contact=fresh, actor=personas.alice)
    again.refresh_from_db()
    with pytest.raises(Conflict, match="deleted"):
        contact_merge_undo(merge=again, actor=personas.alice)


def test_undo_is_refused_when_the_email_was_taken_meanwhile(personas, pair):
    winner, loser = pair
    merge = contact_merge(winner=winner, loser=loser, actor=personas.alice)
    ContactFactory(workspace=personas.acme, email="dana.lee@gmail.com")
    with pytest.raises(Conflict, match="e-mail"):
        contact_merge_undo(merge=merge, actor=personas.alice)
    assert not Contact.objects.filter(pk=loser.pk).exists()


def test_a_contact_cannot_be_merged_across_workspaces_or_into_itself(personas, pair):
    winner, _ = pair
    foreign = ContactFactory(workspace=personas.mallory_inc)
    with pytest.raises(InvalidFields):
        contact_merge(winner=winner, loser=foreign, actor=personas.alice)
    with pytest.raises(InvalidFields):
        contact_merge(winner=foreign, loser=winner, actor=personas.mallory)
    with pytest.raises(InvalidFields):
        contact_merge(winner=winner, loser=winner, actor=personas.alice)
    assert Contact.objects.filter(pk=foreign.pk).exists()


def test_unknown_field_choices_are_refused(personas, pair):
    winner, loser = pair
    with pytest.raises(InvalidFields) as caught:
        contact_merge(winner=winner, loser=loser, actor=personas.alice,
                      field_choices={"password": "loser", "email": "both"})
    assert set(caught.value.errors) == {"password", "email"}
    assert Contact.objects.filter(pk=loser.pk).exists()


def test_a_restricted_rep_cannot_merge_a_contact_he_cannot_see_and_viewers_cannot_merge(personas, pair, victor,
                                                                                         restricted_bob):
    winner, loser = pair
    mine = ContactFactory(workspace=personas.acme, owner=personas.bob)
    with pytest.raises(NotFound):
        contact_merge(winner=mine, loser=loser, actor=personas.bob, membership=restricted_bob)
    viewer = Membership.objects.get(workspace=personas.acme, user=victor)
    with pytest.raises(PermissionDenied):
        contact_merge(winner=winner, loser=loser, actor=victor, membership=viewer)
    also_mine = ContactFactory(workspace=personas.acme, owner=personas.bob)
    contact_merge(winner=mine, loser=also_mine, actor=personas.bob, membership=restricted_bob)
    assert Contact.objects.filter(pk__in=[winner.pk, loser.pk]).count() == 2


def test_every_foreign_key_to_contact_is_covered_by_introspection():
    """A new app's ForeignKey to Contact is moved by merges without anyone registering it."""
    expected = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey) and field.related_model is Contact \
                    and model not in (ContactMerge, DuplicateDismissal):
                expected.add(f"{model._meta.label}.{field.name}")
    assert {relation.key for relation in contact_relations()} == expected
    assert {"timeline.Activity.contact", "deals.Deal.contact", "contacts.ContactTag.contact",
            "messaging.Message.contact"} <= expected
