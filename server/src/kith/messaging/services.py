"""Writes of the messaging app: template versions, the ledger, sending, suppression and unsubscribe.

Sending follows the ledger discipline of the house style: the ``Message`` row is the truth and the job only a
doorbell. ``message_send`` claims the row with one conditional UPDATE (queued → sending) before it touches the
network, so a rerun, a duplicate doorbell or a second worker finds nothing to do; network I/O happens outside any
transaction.

The one crash window that remains: the provider accepted the message and the worker died before writing ``sent``.
The row then stays ``sending``. It is never sent again (at most once wins over at least once for e-mail: a
duplicate newsletter is worse than a missing one), and it is visible as ``sending`` with a ``claimed_at`` in the
past, so an operator, or a later sweeper, can tell "maybe sent" rows apart.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max, Q

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts import services as contact_services
from kith.contacts.models import ConsentState, Contact
from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import Conflict, KithError, NotFound
from kith.core.jobs import enqueue_on_commit, job
from kith.messaging import selectors
from kith.messaging.backends import OutgoingEmail, ResultKind, SendResult, backend_get
from kith.messaging.models import (
    Channel,
    Message,
    MessageStatus,
    SourceType,
    Suppression,
    SuppressionReason,
    Template,
    TemplateVersion,
)
from kith.messaging.preparation import message_build, prepared_version, version_prepare
from kith.messaging.rendering import (
    TemplateRenderError,
    css_inline_template,
    text_from_html,
)
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record

# Throttling and greylisting usually clear within minutes; five tries over ~1.5 hours, then the message fails.
MAX_SEND_ATTEMPTS = 5
BACKOFF_SECONDS = (60, 300, 900, 3600)
VERSION_FIELDS = ("subject", "preheader", "html", "text", "from_name", "from_email", "reply_to")


def address_normalize(address: str) -> str:
    return address.strip().lower()


# --- templates -----------------------------------------------------------------------------------------------------

def template_validate(*, workspace: Workspace, content: Mapping[str, str]) -> list[TemplateRenderError]:
    """Compile and render ``content`` against a sample context; the problems found, each naming its field and
    line. An empty list means the content can be saved and sent."""
    version = TemplateVersion(pk=0, **{name: content.get(name, "") for name in VERSION_FIELDS})
    version.html_inlined = version.html
    problems: list[TemplateRenderError] = []
    if not version.subject.strip():
        problems.append(TemplateRenderError("Give the message a subject.", field="subject"))
    if not (version.html.strip() or version.text.strip()):
        problems.append(TemplateRenderError("Give the message an HTML or a text part.", field="html"))
    try:
        prepared = version_prepare(version, track_clicks=False)
    except TemplateRenderError as exc:
        return [*problems, exc]
    context = selectors.sample_context(workspace=workspace)
    for part in (prepared.subject, prepared.html, prepared.text):
        if part is None:
            continue
        try:
            part.render(context)
        except TemplateRenderError as exc:
            problems.append(exc)
    return problems


@transaction.atomic
def template_create(*, workspace: Workspace, actor: Any, name: str, content: Mapping[str, str],
                    channel: str = Channel.EMAIL) -> Template:
    """Create a template and its first version (see ``template_version_create``)."""
    name = name.strip()
    if not name:
        raise KithError("Give the template a name.", field="name")
    if Template.objects.for_workspace(workspace).filter(name=name).exists():
        raise Conflict("A template with this name exists.", field="name")
    template = Template.objects.create(workspace=workspace, name=name, channel=channel)
    audit_record(action="template.created", actor=actor, workspace=workspace, target=template,
                 after=snapshot(template, ["name", "channel"]))
    template_version_create(template=template, actor=actor, content=content)
    return template


@transaction.atomic
def template_version_create(*, template: Template, actor: Any, content: Mapping[str, str]) -> TemplateVersion:
    """Add a version and make it current. Refuses content that does not render (``TemplateRenderError`` with the
    field and line of the first problem). CSS is inlined and the text part generated here, once per version."""
    problems = template_validate(workspace=template.workspace, content=content)
    if problems:
        raise problems[0]
    values = {name: str(content.get(name, "")) for name in VERSION_FIELDS}
    locked = Template.objects.select_for_update().get(pk=template.pk)
    number = (locked.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = TemplateVersion(template=locked, number=number, **values)
    version.html_inlined = css_inline_template(version.html)
    if not version.text.strip() and version.html.strip():
        version.text = text_from_html(version.html)
        version.text_generated = True
    version.save()
    locked.current_version = version
    locked.save(update_fields=["current_version", "updated_at"])
    template.current_version = version
    audit_record(action="template.version_created", actor=actor, workspace=locked.workspace, target=locked,
                 after={"version": number})
    return version


# --- the ledger ----------------------------------------------------------------------------------------------------

@transaction.atomic
def message_queue(*, workspace: Workspace, template: Template, contact: Contact, source_type: str,
                  source_id: str = "", merge_data: Mapping[str, Any] | None = None) -> Message:
    """Insert the ledger row for one message and ring the sender after commit.

    ``(source_type, source_id, contact)`` is unique: queuing the same source for the same contact again returns the
    existing row instead of a second message. A transactional call passes no ``source_id`` and gets a fresh one."""
    if template.current_version_id is None:
        raise KithError("This template has no content yet.", field="template")
    if not contact.email:
        raise KithError("This contact has no e-mail address.", field="contact")
    source_id = source_id or secrets.token_hex(16)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                workspace=workspace, channel=template.channel, contact=contact, source_type=source_type,
                source_id=source_id, template_version_id=template.current_version_id, to_address=contact.email,
                merge_data=dict(merge_data or {}), queued_at=clock.now(),
            )
    except IntegrityError:
        return Message.objects.get(source_type=source_type, source_id=source_id, contact=contact)
    enqueue_on_commit(message_send_task, message_id=message.pk)
    return message


@transaction.atomic
def message_send_transactional(*, workspace: Workspace, actor: Any, membership: Membership | None, template_id: int,
                               contact_id: int | None = None, email: str = "", create_contact: bool = False,
                               merge_data: Mapping[str, Any] | None = None) -> Message:
    """The transactional API's write: resolve the recipient (a contact id, or an e-mail address, creating the contact
    when asked) and queue one message. Raises ``NotFound`` for a template or contact the caller cannot see."""
    template = selectors.template_get(workspace=workspace, template_id=template_id)
    if contact_id is not None:
        contact = contact_selectors.contact_get(workspace=workspace, membership=membership, contact_id=contact_id)
    else:
        address = address_normalize(email)
        found = contact_selectors.contact_list(workspace=workspace, membership=membership).filter(email=address)
        contact = found.first()
        if contact is None:
            if not create_contact:
                raise NotFound("No contact has this e-mail address; pass create_contact to create one.", field="email")
            contact, _ = contact_services.contact_upsert(workspace=workspace, actor=actor, membership=membership,
                                                         data={"email": address})
    return message_queue(workspace=workspace, template=template, contact=contact,
                         source_type=SourceType.TRANSACTIONAL, merge_data=merge_data)


def _claim(message_id: int) -> bool:
    """queued (or deferred and due) → sending, in one conditional UPDATE: exactly one caller wins."""
    now = clock.now()
    due = Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.DEFERRED, next_attempt_at__lte=now)
    return Message.objects.filter(due, pk=message_id).update(
        status=MessageStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now) == 1


def _finish(message: Message, *, status: str, error: str = "", **fields: Any) -> None:
    """Write the outcome, conditioned on the row still being ours (``sending``)."""
    Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
        status=status, error=error[:2000], finished_at=clock.now(), **fields)


def message_send(*, message_id: int) -> str:
    """Send one queued message; returns the status it ended in (or its current one when there was nothing to do).

    Marketing messages to a suppressed or opted-out address end ``suppressed`` without being sent."""
    if not _claim(message_id):
        return Message.objects.values_list("status", flat=True).get(pk=message_id)
    message = selectors.message_for_sending(message_id=message_id)
    if message.is_marketing and selectors.is_suppressed(workspace=message.workspace, contact=message.contact,
                                                        address=message.to_address):
        _finish(message, status=MessageStatus.SUPPRESSED)
        return MessageStatus.SUPPRESSED
    try:
        built = message_build(prepared_version(message.template_version), message_id=message.pk,
                              to_name=message.contact.full_name, to_address=message.to_address,
                              context=selectors.message_context(message=message), marketing=message.is_marketing)
    except (TemplateRenderError, ValueError) as exc:
        _finish(message, status=MessageStatus.FAILED, error=f"Rendering failed: {exc}")
        return MessageStatus.FAILED
    outgoing = OutgoingEmail(message_id=message.pk, envelope_from=message.template_version.from_email
                             or "no-reply@kith.localhost", recipients=(message.to_address,), wire=built.wire)
    backend = backend_get()
    try:  # outside any transaction: the job runs in autocommit mode
        result = backend.send_many([outgoing])[0]
    finally:
        backend.close()
    return _record_result(message, result, subject=built.subject)


def _record_result(message: Message, result: SendResult, *, subject: str) -> str:
    if result.kind == ResultKind.SENT:
        with transaction.atomic():
            _finish(message, status=MessageStatus.SENT, subject=subject[:998],
                    provider_message_id=result.provider_message_id[:255], sent_at=clock.now())
            activity_record(workspace=message.workspace, kind=ActivityKind.EMAIL_SENT, title=f"E-mail sent: {subject}",
                            contact=message.contact, data={"message_id": message.pk,
                                                           "source_type": message.source_type})
        return MessageStatus.SENT
    attempts = message.attempts  # already counts this attempt (the claim incremented it)
    if result.kind == ResultKind.PERMANENT or attempts >= MAX_SEND_ATTEMPTS:
        _finish(message, status=MessageStatus.FAILED, error=result.error, subject=subject[:998])
        return MessageStatus.FAILED
    delay = max(result.retry_after or 0, BACKOFF_SECONDS[min(attempts, len(BACKOFF_SECONDS)) - 1])
    retry_at = clock.now() + dt.timedelta(seconds=delay)
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, status=MessageStatus.SENDING).update(
            status=MessageStatus.DEFERRED, error=result.error[:2000], next_attempt_at=retry_at, subject=subject[:998])
        enqueue_on_commit(message_send_task, run_at=retry_at, message_id=message.pk)
    return MessageStatus.DEFERRED


@job(max_attempts=3)
def message_send_task(*, message_id: int) -> None:
    message_send(message_id=message_id)


# --- suppression and unsubscribe -----------------------------------------------------------------------------------

def suppression_add(*, workspace: Workspace, address: str, reason: str, actor: Any = None) -> Suppression:
    """Suppress ``address`` for marketing in ``workspace``; an existing entry keeps its first reason."""
    if reason not in SuppressionReason.values:
        raise KithError(f"Use one of: {', '.join(SuppressionReason.values)}.", field="reason")
    normalized = address_normalize(address)
    if not normalized:
        raise KithError("Give an address.", field="address")
    with transaction.atomic():
        suppression, created = Suppression.objects.get_or_create(workspace=workspace, address=normalized,
                                                                 defaults={"reason": reason})
        if created:
            audit_record(action="suppression.created", actor=actor, workspace=workspace, target=suppression,
                         after=snapshot(suppression, ["address", "reason"]))
    return suppression


@transaction.atomic
def message_unsubscribe(*, message: Message) -> None:
    """The recipient of ``message`` unsubscribes: suppress the address, record the opt-out on the contact and the
    timeline. Idempotent: a second click changes nothing."""
    suppression_add(workspace=message.workspace, address=message.to_address, reason=SuppressionReason.UNSUBSCRIBE)
    # Locked and re-read: two clicks at once (mail scanners do this) must record one opt-out.
    contact = Contact.objects.select_for_update().get(pk=message.contact_id)
    if contact.email_consent != ConsentState.OPTED_OUT:
        contact_services.contact_update(contact=contact, actor=None, data={"email_consent": ConsentState.OPTED_OUT})
        activity_record(workspace=message.workspace, kind=ActivityKind.UNSUBSCRIBED, title="Unsubscribed",
                        contact=contact, data={"message_id": message.pk, "source_type": message.source_type})


__all__ = ["SourceType", "message_queue", "message_send", "message_send_task", "message_send_transactional", "message_unsubscribe",
           "suppression_add", "template_create", "template_validate", "template_version_create"]
