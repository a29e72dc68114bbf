from django.urls import path

from kith.tracking import views

app_name = "tracking"

urlpatterns = [
    path("settings/tracking/", views.tracking_settings, name="settings"),
]
