"""The template editor's form: shape only; rendering problems come from ``preview.template_preview``."""

from __future__ import annotations

from django import forms

from kith.messaging.models import Channel

# A template larger than this is not an e-mail anyone reads; it is a paste accident.
MAX_PART_CHARS = 200_000

_CODE = {"class": "form-control font-monospace kith-code", "spellcheck": "false", "autocomplete": "off"}


class EmailTemplateForm(forms.Form):
    name = forms.CharField(max_length=200)
    subject = forms.CharField(max_length=998,
                              help_text='Merge tags work here too: {{ contact.first_name | default("there") }}.')
    preheader = forms.CharField(max_length=255, required=False,
                                help_text="The preview line mail apps show after the subject.")
    html = forms.CharField(label="HTML part", max_length=MAX_PART_CHARS, required=False,
                           widget=forms.Textarea(attrs={**_CODE, "rows": 16}))
    text = forms.CharField(label="Text part", max_length=MAX_PART_CHARS, required=False,
                           widget=forms.Textarea(attrs={**_CODE, "rows": 6}),
                           help_text="Leave empty to generate it from the HTML part.")
    from_name = forms.CharField(label="From name", max_length=200, required=False)
    from_email = forms.EmailField(label="From address", required=False)
    reply_to = forms.EmailField(label="Reply-to", required=False)

    channel = Channel.EMAIL


class SmsTemplateForm(forms.Form):
    name = forms.CharField(max_length=200)
    text = forms.CharField(label="Message", max_length=1600, widget=forms.Textarea(attrs={**_CODE, "rows": 5}),
                           help_text="Long messages are sent as several segments (160 characters each, fewer "
                                     "with emoji).")

    channel = Channel.SMS


def editor_form(channel: str) -> type[EmailTemplateForm | SmsTemplateForm]:
    return SmsTemplateForm if channel == Channel.SMS else EmailTemplateForm
