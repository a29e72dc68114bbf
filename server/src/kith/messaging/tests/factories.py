"""Builders for messaging tests: a valid template in one call."""

from __future__ import annotations

from typing import Any

from kith.messaging.models import Template
from kith.messaging.services import template_create

HTML = ("<html><head><style>p { color: #333 }</style></head><body>"
        "<p>Hello {{ contact.first_name | default('there') }}!</p>"
        '<p><a href="https://shop.example.com/new">See what is new</a></p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


def template_make(*, workspace: Any, actor: Any = None, name: str = "Welcome", **content: str) -> Template:
    values = {"subject": "Welcome, {{ contact.first_name | default('friend') }}", "html": HTML,
              "from_name": "Acme Team", "from_email": "team@acme.test"} | content
    return template_create(workspace=workspace, actor=actor, name=name, content=values)
