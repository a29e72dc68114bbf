from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "kith.workflows"
    label = "workflows"
    verbose_name = "Workflows"

    def ready(self) -> None:
        # Every process (web, workers) subscribes the same way: events and segment changes enroll and wake runs.
        from kith.workflows import triggers

        triggers.subscribe()
