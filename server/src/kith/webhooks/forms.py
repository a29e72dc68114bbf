"""The endpoint form of the Settings → Webhooks page."""

from __future__ import annotations

from django import forms

from kith.webhooks.events import EVENT_TYPES
from kith.webhooks.models import ALL_EVENTS

EVENT_DESCRIPTIONS = {ALL_EVENTS: "Every event type, including ones added later", **EVENT_TYPES}


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label="Endpoint URL", max_length=2000,
        help_text="Kith POSTs each event here as JSON, signed per the Standard Webhooks spec.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/webhooks/kith", "autocomplete": "off"}),
    )
    description = forms.CharField(label="Description", max_length=200, required=False)
    event_types = forms.MultipleChoiceField(
        label="Events",
        choices=[(name, "All events" if name == ALL_EVENTS else name) for name in EVENT_DESCRIPTIONS],
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Choose at least one event type."},
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True,
                                   help_text="Paused endpoints receive nothing (test events excepted).")


class WebhookSettingsForm(forms.Form):
    allow_private_addresses = forms.BooleanField(
        label="Allow private addresses", required=False,
        help_text="Let endpoints of this workspace point at private, loopback and link-local addresses (10.x, "
                  "192.168.x, 127.0.0.1, …), checked after DNS resolution. Only for receivers on your own network: "
                  "anyone who can add an endpoint could then reach internal services.")
