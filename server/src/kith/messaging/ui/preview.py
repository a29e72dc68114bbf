"""The template editor's reads and its one write: render unsaved content against a real contact (live preview,
errors with the author's line numbers), save a new version, and send a test to the person editing.

Preview renders the author's own text, not the stored preparation of a version (CSS inlined, lines reflowed for
the MIME encoder): reflowing adds line breaks, so an error line of the prepared HTML would not be the line the
author sees in the editor.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from kith.accounts.models import Workspace
from kith.contacts.models import Contact
from kith.core import clock
from kith.core.audit import audit_record
from kith.core.errors import KithError
from kith.core.jobs import enqueue_on_commit
from kith.messaging import selectors
from kith.messaging.models import (
    TEST_SOURCE_PREFIX,
    Channel,
    Message,
    SourceType,
    Template,
    TemplateVersion,
)
from kith.messaging.rendering import (
    TemplateRenderError,
    compile_part,
    css_inline_template,
    text_from_html,
)
from kith.messaging.sending import message_send_task
from kith.messaging.services import template_create, template_version_create

EMAIL_FIELDS = ("subject", "preheader", "html", "text", "from_name", "from_email", "reply_to")
# (field, is HTML) for each part that is a template.
_PARTS = (("subject", False), ("preheader", False), ("html", True), ("text", False))


FIELD_LABELS = {"subject": "Subject", "preheader": "Preheader", "html": "HTML part", "text": "Text part",
                "name": "Name"}


@dataclass(frozen=True)
class Problem:
    """One error as the editor lists it: which field, which line, what."""

    field: str
    label: str
    line: int | None
    text: str


@dataclass
class Preview:
    subject: str = ""
    preheader: str = ""
    html: str = ""
    text: str = ""
    text_generated: bool = False
    errors: list[TemplateRenderError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def problems(self) -> list[Problem]:
        rows = []
        for error in self.errors:
            text = error.message.removesuffix(f" (line {error.line})") if error.line else error.message
            field_name = error.field or ""
            rows.append(Problem(field=field_name, label=FIELD_LABELS.get(field_name, "Template"), line=error.line,
                                text=text))
        return rows


def preview_context(*, workspace: Workspace, contact: Contact | None) -> dict[str, Any]:
    """What a message to ``contact`` renders with (the sample context without one). The unsubscribe link of a
    preview is inert: a preview has no ledger row to sign it for."""
    if contact is None:
        return selectors.sample_context(workspace=workspace)
    context = selectors.message_context(message=Message(workspace=workspace, contact=contact, merge_data={}))
    context["unsubscribe_url"] = "#unsubscribe-link-of-the-sent-message"
    return context


def template_preview(*, workspace: Workspace, content: Mapping[str, str], contact: Contact | None,
                     channel: str = Channel.EMAIL) -> Preview:
    """Render every part of ``content``; each problem is a ``TemplateRenderError`` naming its field and line."""
    preview = Preview()
    context = preview_context(workspace=workspace, contact=contact)
    parts = (("text", False),) if channel == Channel.SMS else _PARTS
    for name, html in parts:
        source = str(content.get(name, "") or "")
        if not source.strip():
            continue
        try:
            setattr(preview, name, compile_part(source, field=name, html=html).render(context))
        except TemplateRenderError as exc:
            preview.errors.append(exc)
    if channel == Channel.SMS:
        if not preview.text.strip() and not preview.errors:
            preview.errors.append(TemplateRenderError("Write the message.", field="text"))
        return preview
    if not str(content.get("subject", "")).strip():
        preview.errors.append(TemplateRenderError("Give the message a subject.", field="subject"))
    if not (str(content.get("html", "")).strip() or str(content.get("text", "")).strip()):
        preview.errors.append(TemplateRenderError("Give the message an HTML or a text part.", field="html"))
    if preview.html:
        try:
            css_inline_template(str(content.get("html", "")))
        except TemplateRenderError as exc:
            preview.errors.append(exc)
        if not preview.text.strip():
            # What the saved version will carry: the text part generated from the HTML (see template_version_create).
            preview.text = text_from_html(preview.html)
            preview.text_generated = True
    return preview


def version_content(version: TemplateVersion | None) -> dict[str, str]:
    """A version's fields as the editor shows them (a generated text part shows as empty: it is regenerated)."""
    if version is None:
        return {}
    values = {name: getattr(version, name) for name in EMAIL_FIELDS}
    if version.text_generated:
        values["text"] = ""
    return values


def _service_content(channel: str, name: str, content: Mapping[str, str]) -> dict[str, str]:
    if channel == Channel.SMS:
        # An SMS has no subject, but a version needs one (template_validate): the template's name stands in, and
        # only lists ever show it.
        return {"subject": name, "text": str(content.get("text", ""))}
    return {key: str(content.get(key, "") or "") for key in EMAIL_FIELDS}


def template_save(*, workspace: Workspace, actor: Any, template: Template | None, name: str, channel: str,
                  content: Mapping[str, str]) -> Template:
    """Create the template, or add a version to it (every save is a new version; a message keeps the one it was
    rendered from). A rename is audited with the version."""
    values = _service_content(channel, name, content)
    if template is None:
        return template_create(workspace=workspace, actor=actor, name=name, content=values, channel=channel)
    with transaction.atomic():
        name = name.strip()
        if name and name != template.name:
            if Template.objects.for_workspace(workspace).filter(name=name).exclude(pk=template.pk).exists():
                raise KithError("A template with this name exists.", field="name")
            audit_record(action="template.renamed", actor=actor, workspace=workspace, target=template,
                         before={"name": template.name}, after={"name": name})
            template.name = name
            template.save(update_fields=["name", "updated_at"])
        template_version_create(template=template, actor=actor, content=values)
    return template


def template_send_test(*, template: Template, actor: Any, contact: Contact) -> Message:
    """Queue the current version, rendered for ``contact``, to the editing user's own address.

    Refused (``KithError``) when the current version does not render for this contact: a template that fails to
    render is never sent, not even as a test."""
    version = template.current_version
    if version is None:
        raise KithError("Save the template before sending a test.", field="template")
    address = getattr(actor, "email", "")
    if not address:
        raise KithError("Your account has no e-mail address to send the test to.")
    if template.channel == Channel.SMS:
        raise KithError("Test sends go to your e-mail address; SMS templates are checked with the preview.")
    preview = template_preview(workspace=template.workspace, content=version_content(version), contact=contact)
    if preview.errors:
        raise preview.errors[0]
    with transaction.atomic():
        message = Message.objects.create(
            workspace=template.workspace, channel=template.channel, contact=contact,
            source_type=SourceType.TRANSACTIONAL, source_id=f"{TEST_SOURCE_PREFIX}{secrets.token_hex(12)}",
            template_version=version, to_address=address.strip().lower(), queued_at=clock.now())
        audit_record(action="template.test_sent", actor=actor, workspace=template.workspace, target=template,
                     after={"version": version.number, "to": message.to_address, "contact": contact.pk})
        enqueue_on_commit(message_send_task, message_id=message.pk)
    return message


def is_test_message(message: Message) -> bool:
    return message.is_test
