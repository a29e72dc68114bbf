"""The public preference page reached from a message's ``preferences_url``.

No login: the signed token in the URL binds workspace and contact and is the only authority; a forged or altered
token (or a deleted contact) is a 404. GET only shows the form (link scanners follow GETs); POST saves.

CSRF: the view is exempt. CSRF protection stops a foreign site from riding on the visitor's ambient credentials
(a session cookie), but this view reads none: the request is authorized by the token in its URL alone, which a
foreign site does not know. Requiring the CSRF cookie would only break the page in mail apps' in-app browsers
that drop cookies, the place where this link is opened most.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from kith.core.errors import NotFound
from kith.preferences import selectors, services
from kith.preferences.selectors import ContactPreferences

# Topic ids posted beyond this many are not a person ticking boxes.
MAX_POSTED_TOPICS = 500


def _load(token: str) -> ContactPreferences:
    try:
        return selectors.preferences_for_token(token=token)
    except NotFound as exc:
        raise Http404("No such page.") from exc


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def preference_page(request: HttpRequest, token: str) -> HttpResponse:
    prefs = _load(token)
    saved = False
    if request.method == "POST":
        posted = request.POST.getlist("topics")[:MAX_POSTED_TOPICS]
        topic_ids = {int(value) for value in posted if value.isdigit() and len(value) < 19}
        changes = services.preferences_save(workspace=prefs.workspace, contact=prefs.contact,
                                            subscribed_topic_ids=topic_ids,
                                            unsubscribe_all=request.POST.get("unsubscribe_all") == "on")
        prefs = selectors.contact_preferences(workspace=prefs.workspace, contact=prefs.contact)
        saved = True
        return render(request, "preferences/page.html", {"prefs": prefs, "saved": saved, "changes": changes})
    return render(request, "preferences/page.html", {"prefs": prefs, "saved": saved})
