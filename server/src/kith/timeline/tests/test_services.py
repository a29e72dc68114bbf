import pytest

from kith.contacts.tests.factories import ContactFactory
from kith.core.errors import KithError
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create
from kith.timeline.models import ActivityKind
from kith.timeline.selectors import timeline_for_contact, timeline_for_deal
from kith.timeline.services import activity_delete, activity_log_manual, activity_record

pytestmark = pytest.mark.django_db


def test_a_note_is_sanitized_and_shows_on_the_contacts_timeline(personas):
    contact = ContactFactory(workspace=personas.acme)

    note = activity_log_manual(
        workspace=personas.acme, actor=personas.alice, kind=ActivityKind.NOTE, title="Call recap",
        body='<p onclick="steal()">Likes <strong>red</strong> cars<script>alert(1)</script>'
             '<a href="javascript:alert(1)">x</a></p>',
        contact=contact,
    )

    assert "<script" not in note.body and "onclick" not in note.body and "javascript:" not in note.body
    assert "<strong>red</strong>" in note.body
    assert list(timeline_for_contact(workspace=personas.acme, contact=contact)) == [note]
    assert AuditEntry.objects.filter(action="activity.created", target_id=str(note.pk)).exists()


def test_the_timeline_of_a_contact_never_includes_another_workspaces_rows(personas):
    contact = ContactFactory(workspace=personas.acme)
    activity_record(workspace=personas.acme, kind=ActivityKind.EVENT, title="Signed Up", contact=contact)

    assert list(timeline_for_contact(workspace=personas.mallory_inc, contact=contact)) == []


def test_system_entries_cannot_be_logged_by_hand_or_deleted(personas):
    contact = ContactFactory(workspace=personas.acme)
    with pytest.raises(KithError):
        activity_log_manual(workspace=personas.acme, actor=personas.alice, kind=ActivityKind.EMAIL_SENT,
                            title="fake", contact=contact)
    system = activity_record(workspace=personas.acme, kind=ActivityKind.EMAIL_SENT, title="Welcome", contact=contact)
    with pytest.raises(KithError):
        activity_delete(activity=system, actor=personas.alice)


def test_a_manual_entry_needs_a_subject(personas):
    with pytest.raises(KithError) as raised:
        activity_log_manual(workspace=personas.acme, actor=personas.alice, kind=ActivityKind.CALL, title="?")
    assert raised.value.field == "contact"


def test_a_call_can_be_logged_on_a_deal_and_shows_on_its_timeline(personas):
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Pilot")

    call = activity_log_manual(workspace=personas.acme, actor=personas.alice, kind=ActivityKind.CALL,
                               title="Pricing call", body="<p>ok</p>", deal=deal)

    assert call.deal == deal
    assert call in list(timeline_for_deal(workspace=personas.acme, deal=deal))
    assert list(timeline_for_deal(workspace=personas.mallory_inc, deal=deal)) == []
