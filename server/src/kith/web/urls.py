from django.urls import path

from kith.web import views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]
