"""Public pages reached from messages: unsubscribe (RFC 8058 one-click), tracked-link redirects and the open pixel.

No login: the signed token in the URL is the authority, and an unknown or forged token is a 404 for everyone.
"""

from __future__ import annotations

from typing import Any

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotFound,
    HttpResponseRedirect,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kith.messaging import links, selectors, services
from kith.messaging.models import Message
from kith.messaging.preparation import version_links
from kith.tracking.models import HitKind
from kith.tracking.recording import hit_record


def _message(message_id: int | None) -> Message:
    message = selectors.message_by_id(message_id=message_id) if message_id is not None else None
    if message is None:
        raise Http404("No such message.")
    return message


# One-click unsubscribe comes from the mailbox provider as a bare POST without a CSRF token (RFC 8058 §3.1); the
# signed token in the path is what authorizes it, so CSRF protection has nothing to protect here.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation (link scanners follow GETs, so a GET never unsubscribes); POST unsubscribes."""
    message = _message(links.unsubscribe_message_id(token))
    context = {"workspace_name": message.workspace.name, "address": message.to_address, "token": token}
    if request.method == "POST":
        services.message_unsubscribe(message=message)
        return render(request, "messaging/unsubscribed.html", context)
    return render(request, "messaging/unsubscribe.html", context)


# The smallest transparent GIF (43 bytes); answered for every valid open token, so mail clients never show a
# broken image.
PIXEL_GIF = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")


def _not_found() -> HttpResponse:
    # A plain 404 rather than Http404: these views also run from TrackingEndpointsMiddleware, before the session
    # and user the styled error page would read.
    return HttpResponseNotFound(b"Not found.\n", content_type="text/plain")


def _client(request: HttpRequest) -> dict[str, Any]:
    return {"user_agent": request.META.get("HTTP_USER_AGENT", ""), "ip": request.META.get("REMOTE_ADDR")}


@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: one INSERT, then the GIF. The signature alone proves we issued the token, so no query reads
    the message (a hit for a message deleted since is dropped by the aggregation). HEAD records nothing: mail
    clients GET images, and probes that only HEAD are not opens."""
    message_id = links.click_message_id(token)
    if message_id is None:
        return _not_found()
    if request.method == "GET":
        hit_record(message_id=message_id, kind=HitKind.OPEN, **_client(request))
    response = HttpResponse(PIXEL_GIF, content_type="image/gif")
    # Each open should reach us (proxies cache regardless; that is why their opens count as machine opens).
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private"
    return response


@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str, index: int) -> HttpResponse:
    """Redirect a tracked link to its target in the message's template version; never to a URL from the request,
    so this is not an open redirect. The index one past the last link is the hidden honeypot: recorded, answered
    with an empty 204. One query reads the message's version, one INSERT records the click."""
    message_id = links.click_message_id(token)
    found = Message.objects.filter(pk=message_id).values_list(
        "template_version_id", "template_version__created_at").first() if message_id is not None else None
    if found is None:
        return _not_found()
    targets = version_links(version_id=found[0], created_at=found[1])
    if index > len(targets):
        return _not_found()
    kind = HitKind.CLICK if index < len(targets) else HitKind.HONEYPOT
    if request.method == "GET":
        hit_record(message_id=message_id, kind=kind, link_index=index, **_client(request))
    if kind == HitKind.HONEYPOT:
        return HttpResponse(status=204)
    response = HttpResponseRedirect(targets[index])
    response["Cache-Control"] = "no-store, private"
    return response
