"""Reads of outgoing webhooks, always within one workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from kith.accounts.models import Workspace
from kith.webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace)


def webhook_delivery_list(*, workspace: Workspace) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(workspace=workspace).select_related("endpoint")

