"""Error pages (handler400/403/404/500 in the root URLconf), so no visitor ever sees Django's defaults.

Paths under ``/api/`` answer in the API's error format instead: an unknown API route is still JSON to a client.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from kith.core.api import error_body

_API_PREFIX = "/api/"


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(_API_PREFIX)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)
    return render(request, "web/errors/400.html", status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    # Our views raise PermissionDenied with a sentence meant for people; Django's own raise it bare.
    reason = str(exception) if isinstance(exception, PermissionDenied) and exception.args else ""
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", reason or "You do not have access."), status=403)
    return render(request, "web/errors/403.html", {"reason": reason}, status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "web/errors/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request context: the database or a context processor may be what failed."""
    if _is_api(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    request_id = getattr(request, "request_id", "")
    body = loader.get_template("web/errors/500.html").render({"request_id": request_id})
    return HttpResponse(body, status=500)
