"""Reads of incoming webhooks, always within one workspace (the public receiver looks endpoints up by token)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from kith.accounts.models import Workspace
from kith.inbound.models import InboundDelivery, InboundEndpoint


def inbound_endpoint_list(*, workspace: Workspace) -> QuerySet[InboundEndpoint]:
    return InboundEndpoint.objects.for_workspace(workspace)


def inbound_delivery_list(*, workspace: Workspace) -> QuerySet[InboundDelivery]:
    return InboundDelivery.objects.for_workspace(workspace).select_related("endpoint")


def inbound_endpoint_by_token(*, token: str) -> InboundEndpoint | None:
    """The endpoint a public URL names, or ``None``; the token is the only thing that says which workspace."""
    if not token or len(token) > 64:
        return None
    return InboundEndpoint.objects.select_related("workspace").filter(token=token).first()


def inbound_endpoint_url(endpoint: InboundEndpoint) -> str:
    """The public address to give the sender, on the site's configured base URL (``KITH_BASE_URL``)."""
    return settings.KITH_BASE_URL.rstrip("/") + reverse("inbound:receive", args=[endpoint.token])
