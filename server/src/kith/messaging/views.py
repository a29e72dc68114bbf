"""Public pages reached from messages: unsubscribe (RFC 8058 one-click) and tracked-link redirects.

No login: the signed token in the URL is the authority, and an unknown or forged token is a 404 for everyone.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kith.messaging import links, selectors, services
from kith.messaging.models import Message
from kith.messaging.preparation import prepared_version


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


@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str, index: int) -> HttpResponse:
    """Redirect a tracked link to its target in the message's template version; never to a URL from the request,
    so this is not an open redirect."""
    message = _message(links.click_message_id(token))
    targets = prepared_version(message.template_version).links
    if index >= len(targets):
        raise Http404("No such link.")
    return HttpResponseRedirect(targets[index])
