from django.urls import path

from kith.preferences import views

app_name = "preferences"

urlpatterns = [
    path("p/<str:token>/", views.preference_page, name="page"),
]
