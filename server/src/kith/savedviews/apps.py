from django.apps import AppConfig


class SavedViewsConfig(AppConfig):
    name = "kith.savedviews"
    label = "savedviews"
    verbose_name = "Saved views of list pages"
