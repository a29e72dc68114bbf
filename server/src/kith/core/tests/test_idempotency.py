"""Idempotency keys, tested on a minimal view so the rules are shown apart from any app's endpoints.

The contacts API tests show the same behaviour end to end (a retried create or bulk request writes once).
"""

import datetime as dt
from typing import Any

import pytest
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from kith.core import clock
from kith.core.audit import audit_record
from kith.core.idempotency import IDEMPOTENCY_TTL, IdempotentViewMixin, idempotency_prune
from kith.core.idempotency_models import IdempotencyRecord
from kith.core.models import AuditEntry

pytestmark = pytest.mark.django_db


class WriteView(IdempotentViewMixin, APIView):
    """Writes one audit row per executed POST (the side effect a replay must not repeat)."""

    permission_classes: list[Any] = []
    fail_next = False

    def post(self, request: Request) -> Response:
        entry = audit_record(action="test.written", actor=request.user, workspace=request._request.workspace)
        if WriteView.fail_next:
            WriteView.fail_next = False
            raise exceptions.APIException("Temporary failure.")  # a 500 after the write happened
        return Response({"entry": entry.pk, "echo": request.data}, status=status.HTTP_201_CREATED)

    def delete(self, request: Request) -> Response:
        audit_record(action="test.deleted", actor=request.user, workspace=request._request.workspace)
        return Response(status=status.HTTP_204_NO_CONTENT)


def call(user: Any, workspace: Any, *, body: Any = None, key: str | None = None, method: str = "post",
         path: str = "/things/") -> Response:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    request = getattr(APIRequestFactory(), method)(path, body, format="json", **headers)
    request.workspace = workspace
    force_authenticate(request, user=user)
    return WriteView.as_view()(request)


def _written() -> int:
    return AuditEntry.objects.filter(action="test.written").count()


def test_same_key_and_request_replays_the_stored_response_without_writing_again(personas):
    first = call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")
    retry = call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.data == first.data
    assert retry["Idempotent-Replayed"] == "true"
    assert _written() == 1


def test_key_order_in_the_body_does_not_make_a_different_request(personas):
    call(personas.alice, personas.acme, body={"a": 1, "b": 2}, key="abc-1")

    retry = call(personas.alice, personas.acme, body={"b": 2, "a": 1}, key="abc-1")

    assert retry["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize(
    "change",
    [
        {"body": {"name": "b"}},
        {"path": "/other-things/"},
        {"method": "delete", "body": None},
    ],
)
def test_same_key_with_a_different_request_answers_422(personas, change):
    call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    response = call(personas.alice, personas.acme, **({"body": {"name": "a"}, "key": "abc-1"} | change))

    assert response.status_code == 422
    assert response.data["error"]["code"] == "idempotency_key_reused"
    assert _written() == 1


def test_another_member_cannot_replay_someone_elses_response(personas):
    call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    response = call(personas.bob, personas.acme, body={"name": "a"}, key="abc-1")

    assert response.status_code == 422


def test_each_workspace_has_its_own_keys(personas):
    call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    response = call(personas.mallory, personas.mallory_inc, body={"name": "a"}, key="abc-1")

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert _written() == 2


def test_a_server_error_stores_nothing_and_rolls_the_write_back(personas):
    WriteView.fail_next = True
    failed = call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    retry = call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    assert failed.status_code == 500
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert _written() == 1


def test_a_key_may_be_reused_after_it_expired(personas):
    past = clock.now() - IDEMPOTENCY_TTL - dt.timedelta(minutes=1)
    with clock.frozen(past):
        call(personas.alice, personas.acme, body={"name": "a"}, key="abc-1")

    response = call(personas.alice, personas.acme, body={"name": "b"}, key="abc-1")

    assert response.status_code == 201
    assert _written() == 2


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ümlaut"])
def test_a_malformed_key_is_a_400(personas, key):
    response = call(personas.alice, personas.acme, body={"name": "a"}, key=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.data["error"]["fields"]
    assert _written() == 0


def test_without_a_key_every_request_runs(personas):
    call(personas.alice, personas.acme, body={"name": "a"})
    call(personas.alice, personas.acme, body={"name": "a"})

    assert _written() == 2
    assert not IdempotencyRecord.objects.exists()


def test_delete_with_no_body_is_replayed_too(personas):
    first = call(personas.alice, personas.acme, key="del-1", method="delete")
    retry = call(personas.alice, personas.acme, key="del-1", method="delete")

    assert (first.status_code, retry.status_code) == (204, 204)
    assert AuditEntry.objects.filter(action="test.deleted").count() == 1


def test_prune_deletes_only_expired_records(personas):
    with clock.frozen(clock.now() - IDEMPOTENCY_TTL - dt.timedelta(seconds=1)):
        call(personas.alice, personas.acme, body={"name": "old"}, key="old")
    call(personas.alice, personas.acme, body={"name": "new"}, key="new")

    assert idempotency_prune() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
