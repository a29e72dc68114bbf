from django.apps import AppConfig


class ImportsConfig(AppConfig):
    name = "kith.imports"
    label = "imports"
    verbose_name = "Imports"
