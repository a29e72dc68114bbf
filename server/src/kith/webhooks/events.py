"""The event types an endpoint may subscribe to (dotted, past tense, as in STYLE.md)."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "contact.created": "A contact was created",
    "contact.updated": "A contact's fields changed",
    "contact.deleted": "A contact was deleted",
    "deal.stage_changed": "A deal moved to another stage",
}

# Sent only by "Send test event", to that endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"
