"""Settings → Webhooks (owners and admins)."""

from django.urls import path

from kith.webhooks import views

app_name = "outgoing_webhooks"  # "webhooks" is taken by incoming e-mail provider webhooks (kith.messaging)

urlpatterns = [
    path("settings/webhooks/", views.webhook_settings, name="settings"),
    path("settings/webhooks/settings/", views.webhook_settings_save, name="settings_save"),
    path("settings/webhooks/new/", views.webhook_endpoint_create, name="endpoint_create"),
    path("settings/webhooks/<int:pk>/edit/", views.webhook_endpoint_edit, name="endpoint_edit"),
    path("settings/webhooks/<int:pk>/rotate-secret/", views.webhook_endpoint_rotate, name="endpoint_rotate"),
    path("settings/webhooks/<int:pk>/test/", views.webhook_endpoint_test, name="endpoint_test"),
    path("settings/webhooks/deliveries/<int:pk>/replay/", views.webhook_delivery_replay, name="delivery_replay"),
]
