from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kith.web"
    label = "web"
    verbose_name = "Web UI"
