"""Ad-hoc measurement (not collected: no test_ prefix). Run: pytest src/kith/workflows/tests/bench_runner.py -s"""
import time

import pytest
from django.utils import timezone

from kith.contacts.models import Contact
from kith.events.models import Event
from kith.workflows.models import Run, RunStep
from kith.workflows.runner import runs_advance_due
from kith.workflows.services import workflow_activate, workflow_create
from kith.workflows.triggers import events_processed_handle

pytestmark = pytest.mark.django_db


def test_bench(personas):
    n = 1000
    contacts = Contact.objects.bulk_create([Contact(workspace=personas.acme, email=f"b{i}@example.com")
                                            for i in range(n)])
    wf = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": "Bench", "trigger_kind": "event", "trigger_config": {"event": "Signed Up"},
        "definition": {"steps": [{"id": "t", "kind": "adjust_score", "delta": 1, "next": "s"},
                                 {"id": "s", "kind": "set_lead_status", "value": "contacted"}]}})
    workflow_activate(workflow=wf, actor=personas.alice)
    now = timezone.now()
    events = Event.objects.bulk_create([Event(workspace=personas.acme, message_id=f"m{i}", type="track",
                                              name="Signed Up", contact=c, timestamp=now, received_at=now,
                                              processed_at=now) for i, c in enumerate(contacts)])
    ids = [e.pk for e in events]
    t = time.perf_counter()
    for start in range(0, n, 500):
        events_processed_handle(workspace=personas.acme, event_ids=ids[start:start + 500])
    enroll = time.perf_counter() - t
    assert Run.objects.count() == n
    t = time.perf_counter()
    runs_advance_due()
    advance = time.perf_counter() - t
    assert RunStep.objects.count() == 2 * n
    print(f"\nBENCH enroll {n} via events_processed_handle (2 chunks of 500): {enroll*1000:.0f} ms; "
          f"advance {n} runs x 2 steps: {advance:.2f} s = {n/advance:.0f} runs/s, {2*n/advance:.0f} steps/s")
