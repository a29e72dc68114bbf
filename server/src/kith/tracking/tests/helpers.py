"""Builders for tracking tests: a sent message straight in the ledger (no sending path involved)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kith.contacts.services import contact_create
from kith.core import clock
from kith.messaging.models import Message, MessageStatus, SourceType
from kith.messaging.tests.factories import template_make

HTML = ("<html><body><p>Hello {{ contact.first_name | default('there') }}!</p>"
        '<p><a href="https://shop.example.com/new">New</a> <a href="https://shop.example.com/sale">Sale</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


def sent_message(*, workspace: Any, email: str = "ada@example.com", sent_ago: dt.timedelta = dt.timedelta(hours=1),
                 contact: Any = None) -> Message:
    if contact is None:
        contact = contact_create(workspace=workspace, actor=None, data={"email": email, "first_name": "Ada"})
    template = template_make(workspace=workspace, name=f"T {contact.pk}", html=HTML)
    sent_at = clock.now() - sent_ago
    return Message.objects.create(
        workspace=workspace, contact=contact, source_type=SourceType.CAMPAIGN, source_id=f"c{contact.pk}",
        template_version=template.current_version, to_address=contact.email, subject="Spring news",
        status=MessageStatus.SENT, queued_at=sent_at, sent_at=sent_at)


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]
