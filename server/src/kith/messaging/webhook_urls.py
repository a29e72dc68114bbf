"""Provider webhooks under /webhooks/ (see ``kith.messaging.webhooks``). Fixed paths, one per provider: they name
no tenant object; the provider's message id inside the payload finds the message."""

from django.urls import path

from kith.messaging import webhooks

app_name = "webhooks"

urlpatterns = [
    *[path(f"email/{provider}/", webhooks.email_tracking, {"provider": provider}, name=f"{provider}_tracking")
      for provider in webhooks.TRACKING_VIEWS],
    path("sms/twilio/status/", webhooks.twilio_status, name="twilio_status"),
]
