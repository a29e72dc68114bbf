from django.apps import AppConfig


class InboundConfig(AppConfig):
    name = "kith.inbound"
    label = "inbound"
    verbose_name = "Incoming webhooks"
