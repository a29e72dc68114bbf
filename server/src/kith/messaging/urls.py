from django.urls import path

from kith.messaging import views

app_name = "messaging"

urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("t/<str:token>/<int:index>/", views.click, name="click"),
    path("o/<str:token>/", views.open_pixel, name="open"),
]
