from django.apps import AppConfig


class TrackingConfig(AppConfig):
    name = "kith.tracking"
    label = "tracking"
    verbose_name = "Tracking"
