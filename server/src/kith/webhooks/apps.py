from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "kith.webhooks"
    label = "webhooks"
    verbose_name = "Outgoing webhooks"
