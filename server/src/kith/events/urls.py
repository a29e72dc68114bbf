"""The tracking API's routes, at the paths Segment clients use (mounted at the site root: ``/v1/...``), and the
event settings pages."""

from django.urls import path, re_path

from kith.events import views
from kith.events.ingest_views import ingest

app_name = "events"

# Segment's paths have no trailing slash; one is tolerated so that APPEND_SLASH habits do not turn into 404s.
urlpatterns = [
    *[re_path(rf"^v1/{kind}/?$", ingest, {"kind": kind}, name=kind)
      for kind in ("identify", "track", "page", "screen", "group", "alias")],
    re_path(r"^v1/batch/?$", ingest, {"kind": None}, name="batch"),
    # Segment's bulk endpoint for historical data is the same batch format.
    re_path(r"^v1/import/?$", ingest, {"kind": None}, name="import"),
]

# Settings pages of the event API (owners and admins).
urlpatterns += [
    path("settings/events/", views.event_settings, name="settings"),
    path("settings/events/write-key/", views.write_key_create, name="write_key_create"),
    path("settings/events/debugger/", views.event_debugger, name="debugger"),
]
