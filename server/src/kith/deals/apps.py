from django.apps import AppConfig


class DealsConfig(AppConfig):
    name = "kith.deals"
    label = "deals"
    verbose_name = "Pipelines and deals"
