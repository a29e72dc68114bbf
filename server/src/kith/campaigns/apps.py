from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "kith.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"
