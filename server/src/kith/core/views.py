"""Operational endpoints: health and Prometheus metrics. PLACEHOLDER bodies, finished by the ops helper."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse("")
