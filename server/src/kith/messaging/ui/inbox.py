"""The dev inbox: what the local mail sink captured for this workspace, rendered. Development only (404 in
production); members only; a workspace sees only its own messages (see ``devinbox`` for how files are tied to
the ledger).

Message HTML is untrusted (merge data, pasted templates). It is shown in an ``<iframe sandbox>`` whose document
comes from ``dev_inbox_html`` with ``Content-Security-Policy: sandbox``: even opened directly, the document gets
an opaque origin and runs no script, so it can never act in Kith's origin.
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

from kith.messaging import selectors
from kith.messaging.models import Message
from kith.messaging.ui import devinbox
from kith.messaging.ui.preview import is_test_message
from kith.web.views.base import MemberRequest, member_object_view, member_required

# ``sandbox`` alone: no scripts, no forms, no popups, opaque origin. Images and styles of the message still load,
# as in a mail client; nothing may be fetched by script because nothing runs.
SANDBOX_CSP = "sandbox; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'"


def _require_enabled() -> None:
    if not devinbox.dev_inbox_enabled():
        raise Http404("The dev inbox exists in development only.")


def _message(request: MemberRequest, message_id: int) -> Message:
    found = (selectors.message_list(workspace=request.workspace, membership=request.membership)
             .select_related("contact", "template_version__template").filter(pk=message_id).first())
    if found is None:
        raise Http404("No such message.")
    return found


@member_required
@require_GET
def dev_inbox(request: MemberRequest) -> HttpResponse:
    _require_enabled()
    visible = selectors.message_list(workspace=request.workspace, membership=request.membership)
    captured = devinbox.captured_list(messages=visible)
    context = {"captured": captured, "tests": {c.message.pk for c in captured if is_test_message(c.message)},
               "directory": devinbox.sink_directory()}
    if request.htmx and not request.htmx.boosted:
        return render(request, "messaging/ui/_inbox_rows.html", context)
    return render(request, "messaging/ui/inbox.html", context)


@member_object_view
@require_GET
def dev_inbox_message(request: MemberRequest, message_id: int) -> HttpResponse:
    _require_enabled()
    message = _message(request, message_id)
    detail = devinbox.captured_detail(message=message)
    return render(request, "messaging/ui/inbox_message.html",
                  {"message": message, "detail": detail, "is_test": is_test_message(message)})


@member_object_view
@require_GET
@xframe_options_sameorigin
def dev_inbox_html(request: MemberRequest, message_id: int) -> HttpResponse:
    """The message's HTML part as its own document, for the sandboxed iframe of the message page."""
    _require_enabled()
    detail = devinbox.captured_detail(message=_message(request, message_id))
    response = HttpResponse(detail.html if detail else "", content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = SANDBOX_CSP
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-store"
    return response
