from django.apps import AppConfig


class TimelineConfig(AppConfig):
    name = "kith.timeline"
    label = "timeline"
    verbose_name = "Timeline"
