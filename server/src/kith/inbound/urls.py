"""The public receiver (/hooks/in/<token>/, mounted at the site root) and the settings pages."""

from django.urls import path

from kith.inbound import receiver, views

app_name = "inbound"

urlpatterns = [
    path("hooks/in/<str:token>/", receiver.receive, name="receive"),
    path("settings/inbound-webhooks/", views.inbound_settings, name="settings"),
    path("settings/inbound-webhooks/new/", views.inbound_endpoint_create, name="endpoint_create"),
    path("settings/inbound-webhooks/<int:pk>/edit/", views.inbound_endpoint_edit, name="endpoint_edit"),
    path("settings/inbound-webhooks/<int:pk>/secret/", views.inbound_endpoint_rotate, name="endpoint_rotate"),
    path("settings/inbound-webhooks/<int:pk>/delete/", views.inbound_endpoint_delete, name="endpoint_delete"),
]
