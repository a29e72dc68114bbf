from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "kith.search"
    label = "search"
    verbose_name = "Search"
