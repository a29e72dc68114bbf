"""Operational endpoints: ``/healthz`` (database, job runner, broker) and ``/metrics`` (Prometheus).

Both are also answered by ``OpsEndpointsMiddleware`` early in the middleware stack; the URL routes in
``kith.core.urls`` stay so that ``reverse("healthz")`` works and the views are reachable in any middleware setup.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from kith.core.health import health_report
from kith.core.metrics import render_latest


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the app can serve (database reachable; under Celery also the broker), 503 otherwise.

    The body names each dependency's state, the job runner, the age of the oldest due job and the version.
    """
    report = health_report()
    return JsonResponse(report.as_dict(), status=200 if report.healthy else 503)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition (see ``kith.core.metrics`` for multi-process gunicorn).

    When ``KITH_METRICS_TOKEN`` is set, the scraper must send ``Authorization: Bearer <token>``; otherwise 401.
    """
    token = settings.KITH_METRICS_TOKEN
    if token and not _bearer_token_matches(request, token):
        response = HttpResponse("A valid bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(render_latest(), content_type=CONTENT_TYPE_LATEST)


def _bearer_token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, provided = request.headers.get("Authorization", "").partition(" ")
    # Constant-time comparison so the token cannot be recovered byte by byte from response timings.
    return scheme.lower() == "bearer" and hmac.compare_digest(provided.strip().encode(), token.encode())


_OPS_VIEWS: dict[str, Callable[[HttpRequest], HttpResponse]] = {"/healthz": healthz, "/metrics": metrics}


class OpsEndpointsMiddleware:
    """Answers ``/healthz`` and ``/metrics`` before host validation, sessions and authentication.

    Probes reach the server by an internal name (the Docker HEALTHCHECK on 127.0.0.1, Prometheus scraping
    ``web:8000``, a load balancer by IP) that is not in ``ALLOWED_HOSTS``; host validation protects the URLs we
    build from the Host header, and these two endpoints build none. Running before the session and workspace
    middleware also keeps a stray session cookie from turning a database outage into a 500 instead of a 503.
    Place it after ``RequestIdMiddleware`` and ``MetricsMiddleware`` so probes still get request ids and counts.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = _OPS_VIEWS.get(request.path_info)
        if view is not None:
            return view(request)
        return self.get_response(request)
