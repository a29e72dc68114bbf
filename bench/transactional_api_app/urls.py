"""Every Kith route, plus ``POST /bench/txinsert/``: a bare Django view that parses the request's JSON and INSERTs it
into one table (``bench_txapi_baseline``, created by bench/transactional_api.py; no model, no migration), answering
201 with the new row's id. No authentication, validation, ledger, job row or doorbell: the floor that the same
server, middleware stack and database allow for "accept one JSON request and persist it"."""

from __future__ import annotations

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

BASELINE_TABLE = "bench_txapi_baseline"


@csrf_exempt
def bare_insert(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BASELINE_TABLE} (body) VALUES (%s) RETURNING id", [json.dumps(data)])
        row_id = cursor.fetchone()[0]
    return JsonResponse({"id": row_id}, status=201)


urlpatterns = [
    path("bench/txinsert/", bare_insert),
    path("", include("kith.urls")),
]
