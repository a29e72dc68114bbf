"""The workflow pages (any member reads; owners, admins and managers change)."""

from django.urls import path

from kith.workflows import views

app_name = "workflows"

urlpatterns = [
    path("workflows/", views.workflow_list, name="list"),
    path("workflows/new/", views.workflow_create, name="create"),
    path("workflows/<int:pk>/", views.workflow_builder, name="builder"),
    path("workflows/<int:pk>/switch/", views.workflow_switch, name="switch"),
    path("workflows/<int:pk>/steps/new/", views.step_new, name="step_new"),
    path("workflows/<int:pk>/steps/save/", views.step_save, name="step_save"),
    path("workflows/<int:pk>/steps/delete/", views.step_delete, name="step_delete"),
    path("workflows/<int:pk>/test-run/", views.workflow_test_run, name="test_run"),
    path("contacts/<int:pk>/workflow-runs/", views.contact_runs, name="contact_runs"),
]
