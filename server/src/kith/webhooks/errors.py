from __future__ import annotations

from kith.core.errors import KithError


class UnsafeWebhookUrl(KithError, ValueError):
    """The URL is not http(s), or its host resolves to an address webhooks must not reach."""
