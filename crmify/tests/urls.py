from django.contrib import admin
from django.urls import path

from tests.hostapp import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("signup/", views.signup),
    path("users/<int:pk>/rename/", views.rename),
    path("users/<int:pk>/close/", views.close_account),
]
