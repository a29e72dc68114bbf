"""Writes of the messaging app: template versions, the ledger, suppression and unsubscribe.

The send path itself (claim, provider call, outcome) is ``kith.messaging.sending``; provider events after the send
are ``kith.messaging.events``. ``message_send`` and ``message_send_task`` are re-exported here for callers.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts import services as contact_services
from kith.contacts.models import ConsentState, Contact
from kith.contacts.validation import normalize_phone
from kith.core import clock
from kith.core.audit import audit_record, snapshot
from kith.core.errors import Conflict, KithError, NotFound
from kith.core.jobs import enqueue_on_commit
from kith.messaging import selectors
from kith.messaging.models import (
    Channel,
    DeliverySettings,
    EmailBackendChoice,
    Message,
    SmsBackendChoice,
    SourceType,
    Suppression,
    SuppressionReason,
    Template,
    TemplateVersion,
)
from kith.messaging.preparation import version_prepare
from kith.messaging.rendering import (
    TemplateRenderError,
    compile_part,
    css_inline_template,
    text_from_html,
)
from kith.messaging.sending import message_send, message_send_task
from kith.messaging.sms import MAX_SEGMENTS, sms_segments
from kith.timeline.models import ActivityKind
from kith.timeline.services import activity_record
from kith.tracking.services import message_tracking_options_set

VERSION_FIELDS = ("subject", "preheader", "html", "text", "from_name", "from_email", "reply_to")


def address_normalize(address: str) -> str:
    return address.strip().lower()


# --- templates -----------------------------------------------------------------------------------------------------

def template_validate(*, workspace: Workspace, content: Mapping[str, str],
                      channel: str = Channel.EMAIL) -> list[TemplateRenderError]:
    """Compile and render ``content`` against a sample context; the problems found, each naming its field and
    line. An empty list means the content can be saved and sent. An SMS template is its text part only."""
    if channel == Channel.SMS:
        return sms_template_validate(workspace=workspace, text=str(content.get("text", "")))
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


def sms_template_validate(*, workspace: Workspace, text: str) -> list[TemplateRenderError]:
    """An SMS text must render and, with sample values, fit ``MAX_SEGMENTS`` segments."""
    if not text.strip():
        return [TemplateRenderError("Give the message a text.", field="text")]
    try:
        rendered = compile_part(text, field="text", html=False).render(selectors.sample_context(workspace=workspace))
    except TemplateRenderError as exc:
        return [exc]
    if sms_segments(rendered.strip()) > MAX_SEGMENTS:
        return [TemplateRenderError(f"Keep the text within {MAX_SEGMENTS} SMS segments.", field="text")]
    return []


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
    problems = template_validate(workspace=template.workspace, content=content, channel=template.channel)
    if problems:
        raise problems[0]
    values = {name: str(content.get(name, "")) for name in VERSION_FIELDS}
    if template.channel == Channel.EMAIL and not values["from_email"]:
        # The workspace's sender defaults fill a version that names no sender; the version keeps them, so what a
        # message was sent as never changes when the defaults do.
        defaults = DeliverySettings.objects.filter(workspace=template.workspace).first()
        if defaults is not None and defaults.from_email:
            values |= {"from_email": defaults.from_email, "from_name": values["from_name"] or defaults.from_name,
                       "reply_to": values["reply_to"] or defaults.reply_to}
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
    sms = template.channel == Channel.SMS
    to_address = contact.phone if sms else contact.email
    if not to_address:
        raise KithError(f"This contact has no {'phone number' if sms else 'e-mail address'}.", field="contact")
    source_id = source_id or secrets.token_hex(16)
    try:
        with transaction.atomic():
            message = Message.objects.create(
                workspace=workspace, channel=template.channel, contact=contact, source_type=source_type,
                source_id=source_id, template_version=template.current_version, to_address=to_address,
                merge_data=dict(merge_data or {}), queued_at=clock.now(),
            )
    except IntegrityError:
        return Message.objects.get(source_type=source_type, source_id=source_id, contact=contact)
    enqueue_on_commit(message_send_task, message_id=message.pk)
    return message


@transaction.atomic
def message_send_transactional(*, workspace: Workspace, actor: Any, membership: Membership | None, template_id: int,
                               contact_id: int | None = None, email: str = "", phone: str = "",
                               create_contact: bool = False, channel: str = "",
                               merge_data: Mapping[str, Any] | None = None, track_opens: bool = True,
                               track_clicks: bool = True) -> Message:
    """The transactional API's write: resolve the recipient (a contact id, or an e-mail address, creating the contact
    when asked) and queue one message. Raises ``NotFound`` for a template or contact the caller cannot see."""
    template = selectors.template_get(workspace=workspace, template_id=template_id)
    if channel and channel != template.channel:
        raise KithError(f"This is an {template.get_channel_display()} template.", field="template")
    if contact_id is not None:
        contact = contact_selectors.contact_get(workspace=workspace, membership=membership, contact_id=contact_id)
    elif template.channel == Channel.SMS:
        contact = _sms_recipient(workspace=workspace, actor=actor, membership=membership, phone=phone,
                                 create_contact=create_contact)
    else:
        address = address_normalize(email)
        # Only the row is needed here, not the list's joins and tag prefetch (this is the hot transactional path).
        found = (contact_selectors.contact_list(workspace=workspace, membership=membership).filter(email=address)
                 .select_related(None).prefetch_related(None))
        contact = found.first()
        if contact is None:
            if not create_contact:
                raise NotFound("No contact has this e-mail address; pass create_contact to create one.", field="email")
            contact, _ = contact_services.contact_upsert(workspace=workspace, actor=actor, membership=membership,
                                                         data={"email": address})
    message = message_queue(workspace=workspace, template=template, contact=contact,
                            source_type=SourceType.TRANSACTIONAL, merge_data=merge_data)
    # In this transaction, so the sender (rung after commit) sees the opt-out.
    message_tracking_options_set(message=message, track_opens=track_opens, track_clicks=track_clicks)
    return message


def _sms_recipient(*, workspace: Workspace, actor: Any, membership: Membership | None, phone: str,
                   create_contact: bool) -> Contact:
    try:
        number = normalize_phone(phone, region="")
    except ValueError as exc:
        raise KithError(str(exc), field="phone") from exc
    if not number:
        raise KithError("Give the recipient's phone number (E.164, such as +14155550123).", field="phone")
    contact = contact_selectors.contact_list(workspace=workspace, membership=membership).filter(phone=number).first()
    if contact is None:
        if not create_contact:
            raise NotFound("No contact has this phone number; pass create_contact to create one.", field="phone")
        contact = contact_services.contact_create(workspace=workspace, actor=actor, membership=membership,
                                                  data={"phone": number})
    return contact


# --- delivery settings ---------------------------------------------------------------------------------------------

DELIVERY_FIELDS = ("email_backend", "from_name", "from_email", "reply_to", "sms_backend", "sms_from")


@transaction.atomic
def delivery_settings_update(*, workspace: Workspace, actor: Any, data: Mapping[str, str]) -> DeliverySettings:
    """Choose the workspace's providers and sender defaults (credentials stay in the environment). An SMS provider
    needs a sender number or id."""
    if data.get("email_backend", "") not in ("", *EmailBackendChoice.values):
        raise KithError(f"Use one of: {', '.join(EmailBackendChoice.values)}.", field="email_backend")
    if data.get("sms_backend", SmsBackendChoice.NONE) not in SmsBackendChoice.values:
        raise KithError(f"Use one of: {', '.join(SmsBackendChoice.values)}.", field="sms_backend")
    if data.get("sms_backend", SmsBackendChoice.NONE) != SmsBackendChoice.NONE and not str(data.get("sms_from", "")).strip():
        raise KithError("Give the number or sender id messages come from.", field="sms_from")
    current, _ = DeliverySettings.objects.select_for_update().get_or_create(workspace=workspace)
    before = snapshot(current, list(DELIVERY_FIELDS))
    for name in DELIVERY_FIELDS:
        if name in data:
            setattr(current, name, str(data[name]).strip())
    current.save()
    audit_record(action="delivery_settings.updated", actor=actor, workspace=workspace, target=current,
                 before=before, after=snapshot(current, list(DELIVERY_FIELDS)))
    return current


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
    # A test send (the template editor's "send test to me") is rendered for a contact but goes to the editor's own
    # address: the click unsubscribes that address, never the contact it was rendered for.
    if contact.email != address_normalize(message.to_address):
        return
    if contact.email_consent != ConsentState.OPTED_OUT:
        contact_services.contact_update(contact=contact, actor=None, data={"email_consent": ConsentState.OPTED_OUT})
        activity_record(workspace=message.workspace, kind=ActivityKind.UNSUBSCRIBED, title="Unsubscribed",
                        contact=contact, data={"message_id": message.pk, "source_type": message.source_type})


__all__ = ["SourceType", "message_queue", "message_send", "message_send_task", "message_send_transactional", "message_unsubscribe",
           "suppression_add", "template_create", "template_validate", "template_version_create"]
