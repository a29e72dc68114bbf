"""``StorefrontKithBackend``'s deal keeping, against an in-process stand-in of the Kith endpoints it calls
(httpx's MockTransport): one deal per purchase however often a delivery is retried, moved along as the purchase
goes, never reopened once won, and a missing pipeline is "try later", not a dead letter."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from crmify.backends.base import PermanentError, TemporaryError
from crmify.testing import unsaved_lead

from cars.crm import PIPELINE_STAGES, StorefrontKithBackend

PROPERTIES = {"purchase_id": 7, "car": "Saab 900 Turbo (Red)", "total": 9999.0, "currency": "USD"}


class FakeKith:
    """Just enough of Kith's API: track, pipelines (list), deals (list by contact, create, move)."""

    def __init__(self, *, with_pipeline: bool = True) -> None:
        stages = [{"id": 10 + i, "name": s["name"], "kind": s["kind"]} for i, s in enumerate(PIPELINE_STAGES)]
        self.pipelines = [{"id": 3, "name": "Car sales", "stages": stages}] if with_pipeline else []
        self.deals: list[dict[str, Any]] = []
        self.tracked: list[str] = []
        self.moves = 0

    def stage(self, stage_id: int) -> dict[str, Any]:
        return next(s for s in self.pipelines[0]["stages"] if s["id"] == stage_id)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        if path == "/v1/track":
            self.tracked.append(json.loads(request.content)["messageId"])
            return httpx.Response(200, json={"success": True})
        if path == "/api/v1/pipelines/":
            return httpx.Response(200, json={"results": self.pipelines, "next": None})
        if path == "/api/v1/deals/" and method == "GET":
            contact = int(request.url.params["contact"])
            return httpx.Response(200, json={"results": [d for d in self.deals if d["contact"] == contact],
                                             "next": None})
        if path == "/api/v1/deals/" and method == "POST":
            body = json.loads(request.content)
            deal = {**body, "id": len(self.deals) + 1, "status": "open",
                    "stage_name": self.stage(body["stage"])["name"]}
            self.deals.append(deal)
            return httpx.Response(201, json=deal)
        if path.endswith("/move/"):
            deal = next(d for d in self.deals if d["id"] == int(path.split("/")[4]))
            stage = self.stage(json.loads(request.content)["stage"])
            deal.update(stage=stage["id"], stage_name=stage["name"],
                        status={"won": "won", "lost": "lost"}.get(stage["kind"], "open"))
            self.moves += 1
            return httpx.Response(200, json=deal)
        return httpx.Response(404, json={"detail": "not in the fake"})


def backend_for(fake: FakeKith) -> StorefrontKithBackend:
    backend = StorefrontKithBackend(api_key="kith_test", base_url="http://kith.test", pipeline="Car sales")
    backend._client = httpx.Client(base_url="http://kith.test", transport=httpx.MockTransport(fake))
    return backend


def track(backend: StorefrontKithBackend, event: str, message_id: str, **extra: Any) -> None:
    backend.track(unsaved_lead(external_id="501"), event, {**PROPERTIES, **extra}, None, message_id=message_id)


def test_a_retried_delivery_makes_one_deal() -> None:
    fake = FakeKith()
    backend = backend_for(fake)
    track(backend, "Purchase Started", "crmify-1")
    track(backend, "Purchase Started", "crmify-1")  # the answer was lost; the worker delivers again
    assert [(d["name"], d["stage_name"], d["value"], d["contact"]) for d in fake.deals] == [
        ("Purchase #7: Saab 900 Turbo (Red)", "Checkout started", "9999.00", 501)]
    assert fake.moves == 0


def test_the_deal_follows_the_purchase_and_stays_won() -> None:
    fake = FakeKith()
    backend = backend_for(fake)
    track(backend, "Purchase Started", "crmify-1")
    track(backend, "Purchase Abandoned", "crmify-2", reason="card_declined")
    assert fake.deals[0]["stage_name"] == "Checkout abandoned"
    track(backend, "Purchase Completed", "crmify-3")
    assert (fake.deals[0]["stage_name"], fake.deals[0]["status"]) == ("Bought", "won")
    track(backend, "Purchase Abandoned", "crmify-4", reason="left_checkout")  # a stale second tab
    assert (fake.deals[0]["stage_name"], fake.deals[0]["status"]) == ("Bought", "won")
    assert len(fake.deals) == 1 and fake.tracked == ["crmify-1", "crmify-2", "crmify-3", "crmify-4"]


def test_events_without_a_purchase_make_no_deal() -> None:
    fake = FakeKith()
    backend = backend_for(fake)
    backend.track(unsaved_lead(external_id="501"), "Signed Up", {"sms_opt_in": True}, None, message_id="crmify-9")
    assert fake.deals == [] and fake.tracked == ["crmify-9"]


def test_a_missing_pipeline_is_retried_later_not_dead_lettered() -> None:
    backend = backend_for(FakeKith(with_pipeline=False))
    with pytest.raises(TemporaryError, match="storefront_configure_kith"):
        track(backend, "Purchase Started", "crmify-1")


def test_a_lead_kith_never_acknowledged_is_refused() -> None:
    backend = backend_for(FakeKith())
    with pytest.raises(PermanentError):
        backend.track(unsaved_lead(external_id=""), "Purchase Started", PROPERTIES, None, message_id="crmify-1")
