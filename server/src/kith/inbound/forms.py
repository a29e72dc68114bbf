"""Forms of Settings → Incoming webhooks."""

from __future__ import annotations

from django import forms

from kith.inbound.models import EndpointKind

KIND_DESCRIPTIONS = {
    EndpointKind.STRIPE.value: "Payments, checkouts and refunds from Stripe, verified with your endpoint's "
                               "signing secret.",
    EndpointKind.GENERIC.value: "Any system that can POST JSON signed with HMAC-SHA256; Kith generates the secret.",
}


class InboundEndpointForm(forms.Form):
    kind = forms.ChoiceField(label="Source", choices=EndpointKind.choices, widget=forms.RadioSelect,
                             initial=EndpointKind.STRIPE)
    name = forms.CharField(label="Name", max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": "Stripe (live)", "autocomplete": "off"}))
    signing_secret = forms.CharField(
        label="Stripe signing secret", max_length=200, required=False,
        help_text="Stripe only: create the endpoint in Stripe with the URL Kith shows next, then paste its "
                  "whsec_… secret here (you can add it later with “Replace secret”).",
        widget=forms.TextInput(attrs={"placeholder": "whsec_…", "autocomplete": "off", "spellcheck": "false"}),
    )


class InboundEndpointEditForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    is_active = forms.BooleanField(label="Active", required=False,
                                   help_text="A paused endpoint refuses every request (403); senders retry later.")


class StripeSecretForm(forms.Form):
    signing_secret = forms.CharField(
        label="New Stripe signing secret", max_length=200,
        help_text="In Stripe, open the endpoint and “Roll secret”, then paste the new whsec_… secret here.",
        widget=forms.TextInput(attrs={"placeholder": "whsec_…", "autocomplete": "off", "spellcheck": "false"}),
    )
