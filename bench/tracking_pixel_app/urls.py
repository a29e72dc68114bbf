"""Every Kith route, plus ``/bench/gif/``: a bare Django view answering the same GIF with the same headers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from kith.messaging.views import PIXEL_GIF


def bare_gif(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
    return response


urlpatterns = [
    path("bench/gif/", bare_gif),
    path("", include("kith.urls")),
]
