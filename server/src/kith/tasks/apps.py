from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "kith.tasks"
    label = "tasks"
    verbose_name = "Tasks and notifications"
