"""The event types an endpoint may subscribe to (dotted, past tense, as in STYLE.md)."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "contact.created": "A contact was created",
    "contact.updated": "A contact's fields changed",
    "contact.deleted": "A contact was deleted",
    "contact.tag_added": "A tag was put on a contact",
    "contact.tag_removed": "A tag was taken off a contact",
    "deal.stage_changed": "A deal moved to another stage",
    "email.opened": "A person opened an e-mail for the first time (machine opens excluded)",
    "email.clicked": "A person clicked a link of an e-mail for the first time (scanner clicks excluded)",
    "event.received": "An event sent to the event API was processed (its contact resolved)",
}

# Sent only by "Send test event", to that endpoint, whatever it subscribes to.
TEST_EVENT = "webhook.test"
