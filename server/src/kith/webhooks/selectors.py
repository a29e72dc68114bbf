"""Reads of outgoing webhooks, always within one workspace."""

from __future__ import annotations

from django.db.models import QuerySet

from kith.accounts.models import Workspace
from kith.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookSettings


def webhook_endpoint_list(*, workspace: Workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(workspace=workspace)


def webhook_delivery_list(*, workspace: Workspace) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(workspace=workspace).select_related("endpoint")



def webhook_settings_get(*, workspace: Workspace) -> WebhookSettings:
    """The workspace's settings, or the defaults (unsaved) when it never changed them."""
    return WebhookSettings.objects.filter(workspace=workspace).first() or WebhookSettings(workspace=workspace)
