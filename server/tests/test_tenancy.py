"""Tenant isolation, proven by walking every route that exists.

Given Acme's objects (alice's workspace) and mallory, a member of another workspace, every URL pattern of the
project is visited: detail routes with Acme's ids must answer 404 to mallory (by session and by her API key) for
every method, list routes must not contain anything of Acme's, and afterwards Acme's objects are unchanged.

A new route with an object in its path must be taught here (``OBJECT_ROUTES``); the walk fails on a route it does
not know, so no later issue can add an unchecked route by accident.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from kith.accounts.models import ApiKey, Invitation, Membership
from kith.accounts.services import api_key_create, invitation_create
from kith.contacts.models import Company, Contact, ContactMerge, CustomFieldDefinition, Tag
from kith.contacts.services import company_create, contact_create, contact_merge, custom_field_definition_create
from kith.deals.models import Deal
from kith.events.models import Event
from kith.deals.services import deal_create, pipeline_create
from kith.imports import services as import_services
from kith.imports.processing import import_run
from kith.savedviews.models import SavedView
from kith.segments.models import Segment
from kith.campaigns.models import Campaign
from kith.drips.models import Sequence, Step
from kith.core.models import AuditEntry
from kith.messaging.models import Message, SourceType, Suppression
from kith.messaging.services import delivery_settings_update, message_queue, suppression_add, template_create
from kith.preferences.models import Topic
from kith.preferences.services import topic_create
from kith.tasks.models import Notification, NotificationKind, Task
from kith.tasks.notifications import notification_create
from kith.tasks.services import task_create
from kith.timeline.models import Activity
from kith.timeline.services import activity_log_manual
from kith.webhooks.services import webhook_emit, webhook_endpoint_create
from kith.workflows.models import Workflow
from kith.workflows.services import workflow_create, workflow_enroll
from kith.inbound.models import InboundEndpoint
from kith.inbound.services import inbound_endpoint_create, inbound_refuse

pytestmark = pytest.mark.django_db

# Routes that hold no tenant data, or that belong to Django/allauth and authenticate on their own terms.
IGNORED_PREFIXES = ("admin/", "accounts/", "static/", "api/schema/", "api/docs/", "__debug__/")


@dataclass(frozen=True)
class Route:
    path: str  # with <converter:name> placeholders
    name: str
    kwargs: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = pattern.namespace or ""
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(pattern.url_patterns, prefix + route, full_ns)
        elif isinstance(pattern, URLPattern):
            full = (prefix + route).lstrip("^").replace("\\Z", "").replace("$", "")
            kwargs = tuple(re.findall(r"<(?:\w+:)?(\w+)>", full))
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else (pattern.name or "")
            yield Route(path=full, name=name, kwargs=kwargs)


def all_routes() -> list[Route]:
    routes = []
    for route in _walk(get_resolver().url_patterns):
        if route.path.startswith(IGNORED_PREFIXES) or "(?P<format>" in route.path or "\\.(?P<" in route.path:
            continue
        if "format" in route.kwargs:
            continue
        routes.append(route)
    return routes


def fill(path: str, values: dict[str, Any]) -> str:
    def sub(match: re.Match[str]) -> str:
        return str(values[match.group(1)])

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", sub, path)  # regex routes (DRF routers) first: they contain <name>
    path = re.sub(r"<(?:\w+:)?(\w+)>", sub, path)
    return "/" + path.replace("^", "")


@dataclass
class Acme:
    """Workspace A's objects and strings that must never leak to mallory."""

    objects: dict[str, Any]
    secrets: list[str]


def build_acme(personas: Any) -> Acme:
    key, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="acme-integration", scopes=["read"])
    invitation = invitation_create(workspace=personas.acme, actor=personas.alice, email="carol@acme.test",
                                   role="rep")
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    audit = AuditEntry.objects.filter(workspace=personas.acme).first()
    field = custom_field_definition_create(workspace=personas.acme, actor=personas.alice, object_type="contact",
                                           key="acme_secret_field", label="Acme secret field", field_type="text")
    company = company_create(workspace=personas.acme, actor=personas.alice,
                             data={"name": "Acme Customer Corp", "domain": "acme-customer.test"})
    contact = contact_create(workspace=personas.acme, actor=personas.alice,
                             data={"email": "dana@acme-customer.test", "company": company.pk,
                                   "attributes": {"acme_secret_field": "acme secret value"}},
                             tags=["acme-secret-tag"])
    pipeline = pipeline_create(workspace=personas.acme, actor=personas.alice, name="Acme secret pipeline")
    deal = deal_create(workspace=personas.acme, actor=personas.alice, pipeline=pipeline, name="Acme secret deal",
                       contact=contact, company=company, owner=personas.alice)
    template = template_create(workspace=personas.acme, actor=personas.alice, name="Acme secret template",
                               content={"subject": "Acme secret subject", "html": "<p>Acme secret body</p>"})
    message = message_queue(workspace=personas.acme, template=template, contact=contact,
                            source_type=SourceType.CAMPAIGN, source_id="acme-secret-campaign")
    topic = topic_create(workspace=personas.acme, actor=personas.alice, data={"name": "Acme secret topic"})
    # Delivery settings are per workspace; mallory's settings page must show her own, never these.
    delivery_settings_update(workspace=personas.acme, actor=personas.alice,
                             data={"email_backend": "sink", "from_name": "Acme secret sender",
                                   "from_email": "acme-secret-sender@acme.test", "sms_backend": "none"})
    suppression = suppression_add(workspace=personas.acme, address="acme-suppressed@acme-customer.test",
                                  reason="manual")
    task = task_create(workspace=personas.acme, actor=personas.alice,
                       data={"title": "Acme secret task", "due_at": deal.created_at, "assignee": personas.alice.pk,
                             "contact": contact.pk, "deal": deal.pk})
    notification = notification_create(workspace=personas.acme, recipient=personas.alice,
                                       kind=NotificationKind.TASK_REMINDER, text="Acme secret notification",
                                       url=f"/tasks/{task.pk}/", task=task)
    event = Event.objects.create(workspace=personas.acme, message_id="acme-secret-message", type="track",
                                 name="Acme secret event", user_id="acme-secret-user", contact=contact,
                                 timestamp=contact.created_at, received_at=contact.created_at)
    raw_import = b"email,first_name\nacme-import@acme-customer.test,Acme secret importee\nnot-an-email,acme-secret-row\n"
    import_job = import_services.import_create(
        workspace=personas.acme, actor=personas.alice, membership=Membership.objects.get(
            workspace=personas.acme, user=personas.alice), kind="contacts", file_name="acme-secret-import.csv",
        size=len(raw_import), chunks=[raw_import])
    import_job = import_services.import_start(job=import_job, actor=personas.alice)
    import_run(import_id=import_job.pk)  # at once: this test's transaction never commits; errors.csv now exists
    # A merge of two Acme contacts (search's own routes: contact merge, merge record, undo).
    twins = [contact_create(workspace=personas.acme, actor=personas.alice,
                            data={"first_name": "Acme secret twin", "email": f"acme-twin-{n}@acme-customer.test"})
             for n in (1, 2)]
    contact_merge_record = contact_merge(winner=twins[0], loser=twins[1], actor=personas.alice)
    sequence = Sequence.objects.create(workspace=personas.acme, name="Acme secret sequence",
                                       enroll_event="acme-secret-drip-event")
    segment = Segment.objects.create(workspace=personas.acme, name="Acme secret segment",
                                     definition={"tag": "acme-secret-tag"})
    campaign = Campaign.objects.create(workspace=personas.acme, name="Acme secret campaign", template=template)
    campaign.segments.set([segment])
    # A workflow with one run (waiting: the doorbell never rings, this test never commits).
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": "Acme secret workflow", "trigger_kind": "event", "trigger_config": {"event": "acme-secret-wf-event"},
        "definition": {"steps": [{"id": "acme-secret-step", "kind": "wait", "duration": {"days": 1}}]}})
    workflow_enroll(workflow=workflow, actor=personas.alice, contact_ids=[contact.pk])
    # A webhook endpoint (public IP literal: no DNS lookup) and one delivery (never sent: this test never commits).
    webhook_endpoint = webhook_endpoint_create(workspace=personas.acme, actor=personas.alice,
                                               url="https://93.184.215.14/acme-secret-hook", event_types=["*"])
    [webhook_delivery] = webhook_emit(workspace=personas.acme, event_type="contact.created",
                                      data={"email": "acme-secret-webhook@acme-customer.test"})
    # An incoming-webhook endpoint (its token and secret are Acme's) and one logged (refused) request.
    inbound_endpoint = inbound_endpoint_create(workspace=personas.acme, actor=personas.alice, kind="generic",
                                               name="Acme secret inbound")
    inbound_refuse(endpoint=inbound_endpoint, http_status=401, code="invalid_signature", reason="test",
                   body=b'{"acme-secret-inbound-body": 1}')
    note = activity_log_manual(workspace=personas.acme, actor=personas.alice, kind="note",
                               title="Acme secret note", body="<p>acme secret note body</p>", contact=contact)
    return Acme(
        objects={"activity": note, "campaign": campaign, "inbound_endpoint": inbound_endpoint, "inbound_delivery": inbound_endpoint.deliveries.get(), "webhook_endpoint": webhook_endpoint, "webhook_delivery": webhook_delivery, "segment": segment, "workflow": workflow, "workflow_run": workflow.runs.get(), "import_job": import_job, "event": event, "message": message, "template": template, "topic": topic, "suppression": suppression, "api_key": key, "invitation": invitation, "membership": membership, "audit": audit,
                 "workspace": personas.acme, "contact": contact, "company": company,
                 "tag": Tag.objects.get(workspace=personas.acme), "custom_field": field,
                 "pipeline": pipeline, "stage": deal.stage, "deal": deal, "task": task,
                 "notification": notification, "contact_merge": contact_merge_record,
                 "sequence": sequence, "sequence_step": Step.objects.create(sequence=sequence, position=1,
                                                                            day_offset=0, template=template),
                 # A shared view: every Acme member sees it, mallory must not even learn its name.
                 "saved_view": SavedView.objects.create(workspace=personas.acme, owner=personas.alice, kind="contact",
                                                        name="Acme secret view", query="tag=acme-secret-tag",
                                                        shared=True)},
        secrets=["Acme secret note", "acme secret note body", "Acme secret campaign", "Acme secret inbound", inbound_endpoint.token, inbound_endpoint.secret, "acme-secret-inbound-body", "acme-secret-hook", webhook_endpoint.secret, "acme-secret-webhook@acme-customer.test", "alice@acme.test", "bob@acme.test", "carol@acme.test", key.prefix, "acme-integration",
                 raw.split("_", 2)[2], "dana@acme-customer.test", "Acme Customer Corp", "acme-secret-tag",
                 "acme_secret_field", "acme secret value", "Acme secret pipeline", "Acme secret deal",
                 "acme-secret-campaign", "Acme secret topic", "acme-suppressed@acme-customer.test",
                 "Acme secret template", "Acme secret subject", "Acme secret task", "Acme secret notification",
                 "Acme secret event", "acme-secret-user", "acme-secret-message", "Acme secret sender",
                 "acme-secret-sender@acme.test", "Acme secret view", "acme-secret-import.csv",
                 "acme-secret-row", "Acme secret importee", "Acme secret twin", "acme-twin-2@acme-customer.test",
                 "Acme secret segment", "Acme secret workflow", "acme-secret-wf-event", "acme-secret-step", "Acme secret sequence", "acme-secret-drip-event"],
    )


# URL name → (kwarg values built from Acme's objects). Every route with path parameters must be listed.
OBJECT_ROUTES: dict[str, Callable[[Acme], dict[str, Any]]] = {
    "campaign-detail": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-schedule": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-unschedule": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-pause": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-resume": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-cancel": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-stats": lambda a: {"pk": a.objects["campaign"].pk},
    "campaign-recipients": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:detail": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:edit": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:progress": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:schedule": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:pause": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:resume": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:cancel": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:unschedule": lambda a: {"pk": a.objects["campaign"].pk},
    "campaigns:export": lambda a: {"pk": a.objects["campaign"].pk},
    "member-detail": lambda a: {"pk": a.objects["membership"].pk},
    "invitation-detail": lambda a: {"pk": a.objects["invitation"].pk},
    "api-key-detail": lambda a: {"pk": a.objects["api_key"].pk},
    "audit-entry-detail": lambda a: {"pk": a.objects["audit"].pk},
    "contact-detail": lambda a: {"pk": a.objects["contact"].pk},
    "contact-tags": lambda a: {"pk": a.objects["contact"].pk},
    "company-detail": lambda a: {"pk": a.objects["company"].pk},
    "tag-detail": lambda a: {"pk": a.objects["tag"].pk},
    "custom-field-detail": lambda a: {"pk": a.objects["custom_field"].pk},
    "pipeline-detail": lambda a: {"pk": a.objects["pipeline"].pk},
    "pipeline-reorder-stages": lambda a: {"pk": a.objects["pipeline"].pk},
    "stage-detail": lambda a: {"pk": a.objects["stage"].pk},
    "deal-detail": lambda a: {"pk": a.objects["deal"].pk},
    "deal-move": lambda a: {"pk": a.objects["deal"].pk},
    "message-detail": lambda a: {"pk": a.objects["message"].pk},
    "event-detail": lambda a: {"pk": a.objects["event"].pk},
    "task-detail": lambda a: {"pk": a.objects["task"].pk},
    "activity-detail": lambda a: {"pk": a.objects["activity"].pk},
    "notification-detail": lambda a: {"pk": a.objects["notification"].pk},
    "topic-detail": lambda a: {"pk": a.objects["topic"].pk},
    "suppression-detail": lambda a: {"pk": a.objects["suppression"].pk},
    "web:topic_edit": lambda a: {"pk": a.objects["topic"].pk},
    "web:topic_archive": lambda a: {"pk": a.objects["topic"].pk},
    "web:suppression_remove": lambda a: {"pk": a.objects["suppression"].pk},
    "web:template_edit": lambda a: {"pk": a.objects["template"].pk},
    "web:template_send_test": lambda a: {"pk": a.objects["template"].pk},
    # The dev inbox maps sink files to ledger rows; a row of another workspace is a 404 whether or not a file exists.
    "web:dev_inbox_message": lambda a: {"message_id": a.objects["message"].pk},
    "web:dev_inbox_html": lambda a: {"message_id": a.objects["message"].pk},
    # Web UI: GET shows a confirmation (or the role form), POST acts.
    "web:member_role": lambda a: {"pk": a.objects["membership"].pk},
    "web:member_remove": lambda a: {"pk": a.objects["membership"].pk},
    "web:invitation_revoke": lambda a: {"pk": a.objects["invitation"].pk},
    "web:api_key_revoke": lambda a: {"pk": a.objects["api_key"].pk},
    "web:deal_detail": lambda a: {"pk": a.objects["deal"].pk},
    "web:deal_edit": lambda a: {"pk": a.objects["deal"].pk},
    "web:deal_move": lambda a: {"pk": a.objects["deal"].pk},
    "web:deal_convert": lambda a: {"contact_id": a.objects["contact"].pk},
    "web:contact_detail": lambda a: {"pk": a.objects["contact"].pk},
    "contact-merge": lambda a: {"pk": a.objects["contact"].pk},
    "contact-merge-detail": lambda a: {"pk": a.objects["contact_merge"].pk},
    "contact-merge-undo": lambda a: {"pk": a.objects["contact_merge"].pk},
    "web:contact_duplicates_panel": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_merge": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_merge_detail": lambda a: {"pk": a.objects["contact_merge"].pk},
    "web:contact_merge_undo": lambda a: {"pk": a.objects["contact_merge"].pk},
    "web:saved_view_delete": lambda a: {"pk": a.objects["saved_view"].pk},
    "web:contact_field": lambda a: {"pk": a.objects["contact"].pk, "name": "attr.acme_secret_field"},
    "web:contact_edit": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_delete": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_timeline": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_activity_log": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_tags_add": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_tag_remove": lambda a: {"pk": a.objects["contact"].pk},
    "web:company_detail": lambda a: {"pk": a.objects["company"].pk},
    "web:company_edit": lambda a: {"pk": a.objects["company"].pk},
    "web:company_activity_log": lambda a: {"pk": a.objects["company"].pk},
    "web:deal_activity_log": lambda a: {"pk": a.objects["deal"].pk},
    "web:task_edit": lambda a: {"pk": a.objects["task"].pk},
    "web:task_complete": lambda a: {"pk": a.objects["task"].pk},
    "web:task_reopen": lambda a: {"pk": a.objects["task"].pk},
    "web:task_delete": lambda a: {"pk": a.objects["task"].pk},
    "web:notification_read": lambda a: {"pk": a.objects["notification"].pk},
    "import-detail": lambda a: {"pk": a.objects["import_job"].pk},
    "import-start": lambda a: {"pk": a.objects["import_job"].pk},
    "import-errors": lambda a: {"pk": a.objects["import_job"].pk},
    "web:import_detail": lambda a: {"pk": a.objects["import_job"].pk},
    "web:import_progress": lambda a: {"pk": a.objects["import_job"].pk},
    "web:import_cancel": lambda a: {"pk": a.objects["import_job"].pk},
    "web:import_resume": lambda a: {"pk": a.objects["import_job"].pk},
    "web:import_error_report": lambda a: {"pk": a.objects["import_job"].pk},
    "segment-detail": lambda a: {"pk": a.objects["segment"].pk},
    "segment-contacts": lambda a: {"pk": a.objects["segment"].pk},
    "workflow-detail": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-activate": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-pause": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-enroll": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-runs": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-funnel": lambda a: {"pk": a.objects["workflow"].pk},
    "workflow-run-detail": lambda a: {"pk": a.objects["workflow_run"].pk},
    "workflows:builder": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:switch": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:step_new": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:step_save": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:step_delete": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:test_run": lambda a: {"pk": a.objects["workflow"].pk},
    "workflows:contact_runs": lambda a: {"pk": a.objects["contact"].pk},
    "web:segment_edit": lambda a: {"pk": a.objects["segment"].pk},
    "sequence-detail": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-activate": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-deactivate": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-steps": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-steps-reorder": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-step-detail": lambda a: {"pk": a.objects["sequence"].pk, "step_id": a.objects["sequence_step"].pk},
    "sequence-enrollments": lambda a: {"pk": a.objects["sequence"].pk},
    "sequence-stats": lambda a: {"pk": a.objects["sequence"].pk},
    "drips:sequence_edit": lambda a: {"pk": a.objects["sequence"].pk},
    "drips:sequence_switch": lambda a: {"pk": a.objects["sequence"].pk},
    "drips:sequence_delete": lambda a: {"pk": a.objects["sequence"].pk},
    "drips:step_add": lambda a: {"pk": a.objects["sequence"].pk},
    "drips:step_edit": lambda a: {"pk": a.objects["sequence"].pk, "step_pk": a.objects["sequence_step"].pk},
    "drips:step_move": lambda a: {"pk": a.objects["sequence"].pk, "step_pk": a.objects["sequence_step"].pk},
    "drips:step_delete": lambda a: {"pk": a.objects["sequence"].pk, "step_pk": a.objects["sequence_step"].pk},
    "webhook-endpoint-detail": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "webhook-endpoint-rotate-secret": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "webhook-endpoint-test": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "webhook-delivery-detail": lambda a: {"pk": a.objects["webhook_delivery"].pk},
    "webhook-delivery-replay": lambda a: {"pk": a.objects["webhook_delivery"].pk},
    "outgoing_webhooks:endpoint_edit": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "outgoing_webhooks:endpoint_rotate": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "outgoing_webhooks:endpoint_test": lambda a: {"pk": a.objects["webhook_endpoint"].pk},
    "outgoing_webhooks:delivery_replay": lambda a: {"pk": a.objects["webhook_delivery"].pk},
    "inbound-endpoint-detail": lambda a: {"pk": a.objects["inbound_endpoint"].pk},
    "inbound-endpoint-rotate-secret": lambda a: {"pk": a.objects["inbound_endpoint"].pk},
    "inbound-delivery-detail": lambda a: {"pk": a.objects["inbound_delivery"].pk},
    "inbound:endpoint_edit": lambda a: {"pk": a.objects["inbound_endpoint"].pk},
    "inbound:endpoint_rotate": lambda a: {"pk": a.objects["inbound_endpoint"].pk},
    "inbound:endpoint_delete": lambda a: {"pk": a.objects["inbound_endpoint"].pk},
}

# Routes with path parameters that do not name a tenant object, with a harmless value and the reason.
NON_OBJECT_ROUTES: dict[str, dict[str, Any]] = {
    # The token is a signed secret, not an id: a wrong token is a 404 for everyone (tested in the web tests).
    "web:invitation_accept": {"token": "not-a-valid-token"},
    # Signed message tokens (unsubscribe, tracked links): a forged one is a 404 (kith/messaging/tests/test_views.py).
    "messaging:unsubscribe": {"token": "1:not-a-valid-signature"},
    "messaging:click": {"token": "1:not-a-valid-signature", "index": 0},
    # The preference page's token binds workspace and contact; a forged one is a 404 (kith/preferences/tests).
    "preferences:page": {"token": "1.1:not-a-valid-signature"},
    # The open pixel carries the same signed token as the tracked links (kith/tracking/tests/test_requests.py).
    "messaging:open": {"token": "1:not-a-valid-signature"},
    # The public receiver of incoming webhooks: an unknown token is a 404 for everyone (kith/inbound/tests).
    "inbound:receive": {"token": "not-a-valid-token"},
}


def _state(acme: Acme) -> list[Any]:
    """What mallory must not be able to change."""
    key = ApiKey.objects.get(pk=acme.objects["api_key"].pk)
    inv = Invitation.objects.get(pk=acme.objects["invitation"].pk)
    mem = Membership.objects.get(pk=acme.objects["membership"].pk)
    ws = acme.objects["workspace"]
    ws.refresh_from_db()
    contact = Contact.objects.get(pk=acme.objects["contact"].pk)
    return [key.name, key.revoked_at, key.scopes, inv.status, inv.role, mem.role, ws.name, ws.timezone,
            AuditEntry.objects.filter(pk=acme.objects["audit"].pk).exists(),
            contact.email, contact.attributes, list(contact.tags.values_list("name", flat=True)),
            Company.objects.get(pk=acme.objects["company"].pk).name,
            Tag.objects.get(pk=acme.objects["tag"].pk).name,
            CustomFieldDefinition.objects.get(pk=acme.objects["custom_field"].pk).label,
            Deal.objects.filter(pk=acme.objects["deal"].pk).values_list("name", "stage_id", "status").first(),
            acme.objects["pipeline"].stages.count(),
            Message.objects.filter(pk=acme.objects["message"].pk).values_list("status", "to_address").first(),
            ContactMerge.objects.filter(pk=acme.objects["contact_merge"].pk).values_list("undone_at").first(),
            Contact.objects.filter(workspace=acme.objects["workspace"]).count(),
            Event.objects.filter(pk=acme.objects["event"].pk).values_list("name", "contact_id").first(),
            Topic.objects.filter(pk=acme.objects["topic"].pk).values_list("name", "archived_at").first(),
            Suppression.objects.filter(pk=acme.objects["suppression"].pk).exists(),
            acme.objects["template"].versions.count(),
            Task.objects.filter(pk=acme.objects["task"].pk).values_list("title", "status").first(),
            Activity.objects.filter(pk=acme.objects["activity"].pk).values_list("title", "body").first(),
            Notification.objects.filter(pk=acme.objects["notification"].pk).values_list("read_at").first(),
            SavedView.objects.filter(pk=acme.objects["saved_view"].pk).values_list("name", "query").first(),
            Segment.objects.filter(pk=acme.objects["segment"].pk).values_list("name", "definition").first(),
            Workflow.objects.filter(pk=acme.objects["workflow"].pk).values_list("name", "status").first(),
            acme.objects["workflow"].runs.count(),
            Campaign.objects.filter(pk=acme.objects["campaign"].pk).values_list("name", "status").first(),
            Sequence.objects.filter(pk=acme.objects["sequence"].pk).values_list("name", "is_active").first(),
            Step.objects.filter(pk=acme.objects["sequence_step"].pk).values_list("position", "day_offset").first(),
            InboundEndpoint.objects.filter(pk=acme.objects["inbound_endpoint"].pk)
            .values_list("name", "secret", "is_active").first()]


def _clients(personas: Any) -> dict[str, APIClient]:
    session = APIClient()
    session.force_login(personas.mallory)
    keyed = APIClient()
    _, raw = api_key_create(workspace=personas.mallory_inc, actor=personas.mallory, name="mallory key",
                            scopes=["read", "write", "events"])
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return {"session": session, "api key": keyed}


def test_every_route_with_a_path_parameter_is_known_to_the_tenancy_walk():
    unknown = [r.name or r.path for r in all_routes()
               if r.kwargs and r.name not in OBJECT_ROUTES and r.name not in NON_OBJECT_ROUTES]
    assert unknown == [], f"teach tests/test_tenancy.py these routes: {unknown}"


def test_mallory_gets_404_for_every_acme_object_by_every_method(personas):
    acme = build_acme(personas)
    before = _state(acme)
    clients = _clients(personas)
    checked = 0
    for route in all_routes():
        if route.name not in OBJECT_ROUTES:
            continue
        url = fill(route.path, OBJECT_ROUTES[route.name](acme))
        for label, client in clients.items():
            for method in ("get", "patch", "put", "post", "delete"):
                response = getattr(client, method)(url, {"name": "pwned", "role": "owner"}, format="json")
                # 405 means the route has no such method at all; anything else must be a plain 404.
                assert response.status_code in (404, 405), f"{label} {method.upper()} {url}: {response.status_code}"
                body = response.content.decode(errors="replace")
                for secret in acme.secrets:
                    assert secret not in body, f"{label} {method.upper()} {url} leaked {secret!r}"
                checked += 1
    assert checked >= len(OBJECT_ROUTES) * 10
    assert _state(acme) == before


def test_mallory_can_never_list_acme_objects(personas):
    acme = build_acme(personas)
    before = _state(acme)
    clients = _clients(personas)
    listed = 0
    for route in all_routes():
        if route.kwargs and route.name not in NON_OBJECT_ROUTES:
            continue
        url = fill(route.path, NON_OBJECT_ROUTES.get(route.name, {}))
        for label, client in clients.items():
            response = client.get(url, follow=False)
            assert response.status_code < 500, f"{label} GET {url}: {response.status_code}"
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode(errors="replace")
            for secret in acme.secrets:
                assert secret not in text, f"{label} GET {url} leaked {secret!r}"
            listed += 1
    assert listed > 0
    assert _state(acme) == before


def test_an_acme_member_does_see_acme_objects_so_the_walk_can_tell(personas):
    """The walk above is only meaningful if the same URLs do show Acme's data to Acme's own members."""
    acme = build_acme(personas)
    client = APIClient()
    client.force_login(personas.alice)
    for name, kwargs_for in OBJECT_ROUTES.items():
        route = next(r for r in all_routes() if r.name == name)
        response = client.get(fill(route.path, kwargs_for(acme)))
        assert response.status_code == 200, f"alice GET {route.path}: {response.status_code}"
