"""The sequence pages (any member reads; writers change)."""

from django.urls import path

from kith.drips import views

app_name = "drips"

urlpatterns = [
    path("sequences/", views.sequence_list, name="sequence_list"),
    path("sequences/new/", views.sequence_create, name="sequence_create"),
    path("sequences/<int:pk>/", views.sequence_edit, name="sequence_edit"),
    path("sequences/<int:pk>/switch/", views.sequence_switch, name="sequence_switch"),
    path("sequences/<int:pk>/delete/", views.sequence_delete, name="sequence_delete"),
    path("sequences/<int:pk>/steps/", views.step_add, name="step_add"),
    path("sequences/<int:pk>/steps/<int:step_pk>/", views.step_edit, name="step_edit"),
    path("sequences/<int:pk>/steps/<int:step_pk>/move/", views.step_move, name="step_move"),
    path("sequences/<int:pk>/steps/<int:step_pk>/delete/", views.step_delete, name="step_delete"),
]
