from __future__ import annotations

import json
from typing import Any

from django import forms

from kith.segments.services import MAX_NAME_LENGTH

MAX_DEFINITION_LENGTH = 50_000


class SegmentForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    definition = forms.CharField(
        max_length=MAX_DEFINITION_LENGTH, widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
        help_text='A JSON filter tree such as {"all": [{"tag": "vip"}]}, or the text form language=en&plan=pro.',
    )

    def clean_definition(self) -> Any:
        return definition_parse(self.cleaned_data["definition"])


def definition_parse(text: str) -> Any:
    """What the builder's textarea means: JSON when it looks like JSON, otherwise the text form (kept as text)."""
    text = text.strip()
    if not text.startswith(("{", "[")):
        return text
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise forms.ValidationError(f"This is not valid JSON: {exc}") from exc
