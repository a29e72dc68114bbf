"""Every Kith route, plus ``POST /bench/batch/<workspace id>/``: a bare Django view that only bulk-inserts the same
JSON — parse the body, one multi-row ``INSERT … ON CONFLICT DO NOTHING`` of its events in one transaction, answer
``{"success": true}``. No authentication, validation, skew correction or job row: the floor of what a Django view
under the same gunicorn can do with this request."""

from __future__ import annotations

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

_COLUMNS = ("workspace_id, message_id, type, name, user_id, anonymous_id, previous_id, group_id, timestamp, "
            "received_at, properties, traits, context, processing_error")
_ROW = "(%s, %s, %s, %s, %s, '', '', '', %s, %s, %s::jsonb, '{}'::jsonb, %s::jsonb, '')"


@csrf_exempt
def bare_batch(request: HttpRequest, workspace_id: int) -> HttpResponse:
    events = json.loads(request.body)["batch"]
    now = timezone.now()
    params: list[object] = []
    for event in events:
        params += [workspace_id, event["messageId"], event["type"], event.get("event", ""), event.get("userId", ""),
                   event.get("timestamp") or now, now, json.dumps(event.get("properties", {})),
                   json.dumps(event.get("context", {}))]
    sql = (f"INSERT INTO events_event ({_COLUMNS}) VALUES " + ", ".join([_ROW] * len(events))
           + " ON CONFLICT (workspace_id, message_id) DO NOTHING")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return JsonResponse({"success": True})


urlpatterns = [
    path("bench/batch/<int:workspace_id>/", bare_batch),
    path("", include("kith.urls")),
]
