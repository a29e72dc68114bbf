from django.urls import path

from kith.campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("campaigns/", views.campaign_list, name="list"),
    path("campaigns/new/", views.campaign_create, name="create"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="detail"),
    path("campaigns/<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("campaigns/<int:pk>/progress/", views.campaign_progress, name="progress"),
    path("campaigns/<int:pk>/schedule/", views.campaign_schedule, name="schedule"),
    path("campaigns/<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("campaigns/<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("campaigns/<int:pk>/cancel/", views.campaign_cancel, name="cancel"),
    path("campaigns/<int:pk>/unschedule/", views.campaign_unschedule, name="unschedule"),
    path("campaigns/<int:pk>/recipients.csv", views.campaign_export, name="export"),
]
