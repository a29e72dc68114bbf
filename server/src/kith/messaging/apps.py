from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "kith.messaging"
    label = "messaging"
    verbose_name = "Messaging"
