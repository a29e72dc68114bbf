"""The delivery settings form of the workspace settings page: shape and choices; the service owns the rules."""

from __future__ import annotations

from django import forms

from kith.messaging.models import EmailBackendChoice, SmsBackendChoice


class DeliverySettingsForm(forms.Form):
    email_backend = forms.ChoiceField(
        label="E-mail provider", required=False,
        choices=[("", "Server default"), *EmailBackendChoice.choices],
        help_text="Credentials come from the server's environment (KITH_SMTP_*, KITH_SES_*, KITH_SENDGRID_*, "
                  "KITH_MAILGUN_*, KITH_POSTMARK_*).")
    from_name = forms.CharField(label="Default sender name", max_length=200, required=False,
                                widget=forms.TextInput(attrs={"placeholder": "Acme Team"}))
    from_email = forms.EmailField(label="Default sender address", required=False,
                                  help_text="Used by templates that name no sender.",
                                  widget=forms.EmailInput(attrs={"placeholder": "team@acme.com"}))
    reply_to = forms.EmailField(label="Default reply-to address", required=False)
    sms_backend = forms.ChoiceField(label="SMS provider", choices=SmsBackendChoice.choices,
                                    help_text="Twilio reads KITH_TWILIO_*; the HTTP provider KITH_SMS_HTTP_*.")
    sms_from = forms.CharField(label="SMS sender", max_length=32, required=False,
                               help_text="A number in E.164 (+14155550123) or an alphanumeric sender id.")
