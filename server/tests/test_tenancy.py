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
from kith.contacts.models import Company, Contact, CustomFieldDefinition, Tag
from kith.contacts.services import company_create, contact_create, custom_field_definition_create
from kith.deals.models import Deal
from kith.deals.services import deal_create, pipeline_create
from kith.core.models import AuditEntry
from kith.messaging.models import Message, SourceType
from kith.messaging.services import message_queue, template_create

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
    return Acme(
        objects={"message": message, "api_key": key, "invitation": invitation, "membership": membership, "audit": audit,
                 "workspace": personas.acme, "contact": contact, "company": company,
                 "tag": Tag.objects.get(workspace=personas.acme), "custom_field": field,
                 "pipeline": pipeline, "stage": deal.stage, "deal": deal},
        secrets=["alice@acme.test", "bob@acme.test", "carol@acme.test", key.prefix, "acme-integration",
                 raw.split("_", 2)[2], "dana@acme-customer.test", "Acme Customer Corp", "acme-secret-tag",
                 "acme_secret_field", "acme secret value", "Acme secret pipeline", "Acme secret deal",
                 "acme-secret-campaign"],
    )


# URL name → (kwarg values built from Acme's objects). Every route with path parameters must be listed.
OBJECT_ROUTES: dict[str, Callable[[Acme], dict[str, Any]]] = {
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
    "web:contact_edit": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_delete": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_timeline": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_activity_log": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_tags_add": lambda a: {"pk": a.objects["contact"].pk},
    "web:contact_tag_remove": lambda a: {"pk": a.objects["contact"].pk},
    "web:company_detail": lambda a: {"pk": a.objects["company"].pk},
    "web:company_edit": lambda a: {"pk": a.objects["company"].pk},
    "web:company_activity_log": lambda a: {"pk": a.objects["company"].pk},
}

# Routes with path parameters that do not name a tenant object, with a harmless value and the reason.
NON_OBJECT_ROUTES: dict[str, dict[str, Any]] = {
    # The token is a signed secret, not an id: a wrong token is a 404 for everyone (tested in the web tests).
    "web:invitation_accept": {"token": "not-a-valid-token"},
    # Signed message tokens (unsubscribe, tracked links): a forged one is a 404 (kith/messaging/tests/test_views.py).
    "messaging:unsubscribe": {"token": "1:not-a-valid-signature"},
    "messaging:click": {"token": "1:not-a-valid-signature", "index": 0},
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
            Message.objects.filter(pk=acme.objects["message"].pk).values_list("status", "to_address").first()]


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
