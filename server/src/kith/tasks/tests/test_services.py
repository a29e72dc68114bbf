import pytest

from kith.contacts.errors import InvalidFields
from kith.contacts.services import company_create
from kith.contacts.tests.factories import ContactFactory
from kith.core.models import AuditEntry
from kith.deals.services import deal_create, pipeline_create
from kith.tasks import selectors
from kith.tasks.models import Notification, NotificationKind, TaskStatus
from kith.tasks.services import (
    MAX_BULK_ITEMS,
    WriteStatus,
    task_complete,
    task_create,
    task_delete,
    task_reopen,
    task_update,
    task_write_many,
)
from kith.tasks.tests.helpers import membership, restrict, soon
from kith.timeline.models import Activity, ActivityKind

pytestmark = pytest.mark.django_db


def _task(personas, **data):
    return task_create(workspace=personas.acme, actor=personas.alice,
                       data={"title": "Call back", "due_at": soon(), "assignee": personas.alice.pk, **data})


def test_creating_a_task_on_a_contact_writes_audit_and_a_timeline_entry(personas):
    contact = ContactFactory(workspace=personas.acme)

    task = _task(personas, contact=contact.pk, notes='<p onclick="x()">Bring <b>pricing</b><script>alert(1)</script></p>')

    assert task.status == TaskStatus.OPEN and task.created_by == personas.alice
    assert "<b>pricing</b>" in task.notes and "script" not in task.notes and "onclick" not in task.notes
    entry = Activity.objects.get(contact=contact, kind=ActivityKind.TASK)
    assert entry.title == "Task created: Call back" and entry.data["task_id"] == task.pk
    assert AuditEntry.objects.filter(action="task.created", target_id=str(task.pk)).exists()


def test_an_assignee_who_is_not_a_member_is_a_field_error(personas):
    with pytest.raises(InvalidFields) as raised:
        _task(personas, assignee=personas.mallory.pk)
    assert list(raised.value.errors) == ["assignee"]


def test_a_new_task_needs_title_due_date_and_assignee_and_names_each_missing_field(personas):
    with pytest.raises(InvalidFields) as raised:
        task_create(workspace=personas.acme, actor=personas.alice, data={"title": "  "})
    assert set(raised.value.errors) == {"title", "due_at", "assignee"}


def test_linking_a_record_of_another_workspace_is_a_field_error(personas):
    foreign = ContactFactory(workspace=personas.mallory_inc)
    with pytest.raises(InvalidFields) as raised:
        _task(personas, contact=foreign.pk)
    assert raised.value.errors == {"contact": ["No such contact in this workspace."]}


def test_completing_stamps_the_time_and_writes_timeline_and_audit_and_reopen_clears_it(personas):
    contact = ContactFactory(workspace=personas.acme)
    task = _task(personas, contact=contact.pk)

    task_complete(task=task, actor=personas.alice)
    task.refresh_from_db()
    assert task.status == TaskStatus.DONE and task.completed_at is not None
    assert Activity.objects.filter(contact=contact, title="Task completed: Call back").count() == 1
    assert AuditEntry.objects.filter(action="task.completed", target_id=str(task.pk)).exists()

    task_reopen(task=task, actor=personas.alice)
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN and task.completed_at is None
    assert AuditEntry.objects.filter(action="task.reopened", target_id=str(task.pk)).exists()


def test_moving_the_reminder_rearms_it(personas):
    task = _task(personas, reminder_at=soon(-1))
    task.reminded_at = task.reminder_emailed_at = soon(-1)
    task.save()

    task_update(task=task, actor=personas.alice, data={"reminder_at": soon(2)})
    task.refresh_from_db()
    assert task.reminded_at is None and task.reminder_emailed_at is None


def test_assigning_a_task_to_someone_else_notifies_them_but_not_oneself(personas):
    own = _task(personas)
    given = _task(personas, assignee=personas.bob.pk, title="Send quote")

    assert not Notification.objects.filter(task=own).exists()
    note = Notification.objects.get(task=given)
    assert note.recipient == personas.bob and note.kind == NotificationKind.TASK_ASSIGNED
    assert note.url == f"/tasks/{given.pk}/" and "Send quote" in note.text


def test_a_restricted_rep_sees_tasks_assigned_to_them_and_tasks_on_their_records_only(personas):
    rep = restrict(personas)
    bobs_contact = ContactFactory(workspace=personas.acme, owner=personas.bob)
    alices_contact = ContactFactory(workspace=personas.acme, owner=personas.alice)
    assigned = _task(personas, assignee=personas.bob.pk, contact=alices_contact.pk)
    on_his_record = _task(personas, contact=bobs_contact.pk)
    hidden = _task(personas, contact=alices_contact.pk)
    unlinked = _task(personas)

    visible = set(selectors.task_list(workspace=personas.acme, membership=rep))
    assert visible == {assigned, on_his_record}
    assert hidden not in visible and unlinked not in visible
    everything = set(selectors.task_list(workspace=personas.acme, membership=membership(personas, personas.alice)))
    assert everything == {assigned, on_his_record, hidden, unlinked}


def test_a_restricted_rep_cannot_link_a_task_to_a_record_they_do_not_own(personas):
    rep = restrict(personas)
    company = company_create(workspace=personas.acme, actor=personas.alice, data={"name": "Globex",
                                                                                  "owner": personas.alice.pk})
    with pytest.raises(InvalidFields) as raised:
        task_create(workspace=personas.acme, actor=personas.bob, membership=rep,
                    data={"title": "x", "due_at": soon(), "assignee": personas.bob.pk, "company": company.pk})
    assert list(raised.value.errors) == ["company"]


def test_bulk_writes_report_each_item_and_save_the_good_ones(personas):
    existing = _task(personas)
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Sales")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Big one")
    items = [
        {"title": "New", "due_at": soon(), "assignee": personas.bob.pk, "deal": deal.pk},
        {"id": existing.pk, "status": "done"},
        {"title": "Bad", "due_at": soon(), "assignee": personas.mallory.pk},
        {"id": existing.pk, "title": "twice"},
        {"id": 999_999, "title": "missing"},
        {"id": existing.pk + 1_000_000},
    ]

    results = task_write_many(workspace=personas.acme, actor=personas.alice, items=items)

    assert [r.status for r in results] == [WriteStatus.CREATED, WriteStatus.UPDATED, WriteStatus.ERROR,
                                           WriteStatus.ERROR, WriteStatus.ERROR, WriteStatus.ERROR]
    assert results[2].errors == {"assignee": ["Assign the task to a member of this workspace."]}
    assert "Item 1" in results[3].errors["id"][0]
    existing.refresh_from_db()
    assert existing.status == TaskStatus.DONE and existing.title == "Call back"
    assert Activity.objects.filter(deal=deal, kind=ActivityKind.TASK).count() == 1
    with pytest.raises(InvalidFields):
        task_write_many(workspace=personas.acme, actor=personas.alice, items=[{}] * (MAX_BULK_ITEMS + 1))


def test_an_unchanged_update_writes_nothing(personas):
    task = _task(personas)
    results = task_write_many(workspace=personas.acme, actor=personas.alice,
                              items=[{"id": task.pk, "title": "Call back"}])
    assert results[0].status == WriteStatus.UNCHANGED
    assert not AuditEntry.objects.filter(action="task.updated").exists()


def test_deleting_a_task_is_audited(personas):
    task = _task(personas)
    task_id = task.pk
    task_delete(task=task, actor=personas.alice)
    assert AuditEntry.objects.filter(action="task.deleted", target_id=str(task_id)).exists()


def test_deleting_the_contact_keeps_the_task_for_its_assignee(personas):
    contact = ContactFactory(workspace=personas.acme)
    task = _task(personas, contact=contact.pk)
    contact.delete()
    task.refresh_from_db()
    assert task.contact_id is None and task.assignee == personas.alice


def test_reassigning_through_a_bulk_update_saves_and_notifies_the_new_assignee(personas):
    task = _task(personas)
    results = task_write_many(workspace=personas.acme, actor=personas.alice,
                              items=[{"id": task.pk, "assignee": personas.bob.pk}])
    assert results[0].status == WriteStatus.UPDATED
    task.refresh_from_db()
    assert task.assignee == personas.bob
    assert Notification.objects.get(task=task).recipient == personas.bob
