from django.apps import AppConfig


class PreferencesConfig(AppConfig):
    name = "kith.preferences"
    label = "preferences"
    verbose_name = "Subscription preferences"
