from __future__ import annotations

from django import forms


class TrackingSettingsForm(forms.Form):
    track_opens = forms.BooleanField(
        required=False, label="Track opens",
        help_text="Adds an invisible image to each e-mail. Opens by privacy proxies are shown apart, not as people's.")
    track_clicks = forms.BooleanField(
        required=False, label="Track link clicks",
        help_text="Sends links through this server first. Clicks by link scanners are shown apart.")
