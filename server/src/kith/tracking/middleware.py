"""Answers the open pixel and tracked-link clicks before sessions, CSRF, authentication and the workspace lookup.

Those requests come from mail clients, proxies and scanners, never from a signed-in page: the signed token in the
path is their only authority. Running the rest of the stack for them costs more than the hit itself (a stray
session cookie would even cost a session and a user query per open), and a campaign's opens arrive in bursts.
Place it after ``RequestIdMiddleware``/``MetricsMiddleware`` (requests keep their id, count and access-log line)
and next to ``OpsEndpointsMiddleware``. The same views stay reachable through the URLconf (``kith.messaging.urls``)
for any other middleware set-up.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from kith.messaging import views

# The same shapes as the routes in kith.messaging.urls (str and int converters).
_OPEN = re.compile(r"/o/(?P<token>[^/]+)/")
# The index is bounded so int() stays cheap and in range; a longer one falls through to the URLconf (a 404 there).
_CLICK = re.compile(r"/t/(?P<token>[^/]+)/(?P<index>[0-9]{1,5})/")


class TrackingEndpointsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith("/o/"):
            match = _OPEN.fullmatch(path)
            if match is not None:
                return views.open_pixel(request, token=match["token"])
        elif path.startswith("/t/"):
            match = _CLICK.fullmatch(path)
            if match is not None:
                return views.click(request, token=match["token"], index=int(match["index"]))
        return self.get_response(request)
