"""The store's side of the CRM bridge: how a customer maps onto a crmify lead, and a Kith backend that also keeps
a deal per purchase. This is integration configuration, not store logic: the store only calls crmify.

Why deals live in the backend: Kith's contact API (what ``KithBackend`` uses) knows nothing of deals, and Kith's
workflow ``deal`` step keeps one open deal per contact and pipeline with a fixed name and value, while the seed's
final version tells the CRM about each purchase (car, price) as an opportunity. The backend runs in the outbox
worker, so a deal write gets the outbox's retries, backoff and per-lead order, and never runs inside a store
request. (docs/storefront.md says what the workflow step would need to take this over.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from crmify.backends.base import PermanentError, TemporaryError
from crmify.backends.kith import KithBackend
from crmify.mappers import LeadModelFieldMapper

# Stages of the pipeline the configure command creates; the deal moves through them as purchase events arrive.
STAGE_STARTED = "Checkout started"
STAGE_ABANDONED = "Checkout abandoned"
STAGE_WON = "Bought"
STAGE_LOST = "Lost"
PIPELINE_STAGES = [
    {"name": STAGE_STARTED, "win_probability": 60, "kind": "open"},
    {"name": STAGE_ABANDONED, "win_probability": 20, "kind": "open"},
    {"name": STAGE_WON, "win_probability": 100, "kind": "won"},
    {"name": STAGE_LOST, "win_probability": 0, "kind": "lost"},
]
DEAL_STAGE_BY_EVENT = {
    "Purchase Started": STAGE_STARTED,
    "Purchase Abandoned": STAGE_ABANDONED,
    "Purchase Completed": STAGE_WON,
}


class CustomerFieldMapper(LeadModelFieldMapper):
    field_mapping: ClassVar[dict[str, str]] = {
        "user__first_name": "first_name",
        "user__last_name": "last_name",
        "user__email": "email",
        "phone": "phone",
    }
    fallbacks: ClassVar[dict[str, str]] = {"user__username": "email"}


def deal_name(properties: dict[str, Any]) -> str:
    """The deal's name carries the purchase id: Kith's API does not let clients set a deal's external id, so the
    name is what finds the deal again (a retried delivery must not create a second deal)."""
    return f"Purchase #{properties['purchase_id']}: {properties.get('car', 'a car')}"


class StorefrontKithBackend(KithBackend):
    """``KithBackend`` plus: each purchase event upserts the purchase's deal in the configured pipeline.

    Idempotent, so a retried outbox entry is harmless: the event carries a stable ``messageId`` (Kith stores it
    once), the deal is found by contact and name before one is created, and moving a deal to the stage it is in
    changes nothing. ``BACKEND_AUTH["pipeline"]`` names the pipeline (``storefront_configure_kith`` creates it).
    """

    def __init__(self, *, pipeline: str = "Car sales", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline_name = pipeline
        self._pipeline: dict[str, Any] | None = None

    def track(self, lead: Any, event: str, properties: dict[str, Any], timestamp: str | None, *,
              message_id: str) -> None:
        super().track(lead, event, properties, timestamp, message_id=message_id)
        stage = DEAL_STAGE_BY_EVENT.get(event)
        if stage and "purchase_id" in properties:
            self.deal_upsert(lead, properties, stage)

    def pipeline(self) -> dict[str, Any]:
        if self._pipeline is None:
            body = self.request("GET", "/api/v1/pipelines/", params={"page_size": 200}).json()
            found = [p for p in body["results"] if p["name"] == self.pipeline_name]
            if not found:
                raise TemporaryError(f"Kith has no pipeline {self.pipeline_name!r}; run storefront_configure_kith.")
            self._pipeline = found[0]
        return self._pipeline

    def stage_id(self, name: str) -> int:
        for stage in self.pipeline()["stages"]:
            if stage["name"] == name:
                return int(stage["id"])
        self._pipeline = None  # someone edited the pipeline: read it again next time
        raise TemporaryError(f"The pipeline {self.pipeline_name!r} has no stage {name!r}.")

    def deal_find(self, contact_id: int, name: str) -> dict[str, Any] | None:
        """The contact's deal of this name in the pipeline (a customer has a handful; pages are followed)."""
        url: str | None = "/api/v1/deals/"
        params: dict[str, Any] | None = {"contact": contact_id, "pipeline": self.pipeline()["id"], "page_size": 200}
        while url:
            body = self.request("GET", url, params=params).json()
            for deal in body["results"]:
                if deal["name"] == name:
                    return deal
            url, params = body.get("next"), None  # "next" is a full URL with the cursor
        return None

    def deal_upsert(self, lead: Any, properties: dict[str, Any], stage_name: str) -> int:
        if not lead.external_id:
            # The lead's sync always precedes its events in the outbox; this only happens if the CRM lost it.
            raise PermanentError("The lead has no Kith contact id yet.")
        contact_id, name, stage = int(lead.external_id), deal_name(properties), self.stage_id(stage_name)
        deal = self.deal_find(contact_id, name)
        if deal is None:
            body = {"name": name, "pipeline": self.pipeline()["id"], "stage": stage, "contact": contact_id,
                    "currency": str(properties.get("currency") or "USD")[:3]}
            if properties.get("total") is not None:
                body["value"] = f"{float(properties['total']):.2f}"
            return int(self.request("POST", "/api/v1/deals/", json=body).json()["id"])
        if deal["stage"] != stage and not _moves_backwards(deal, stage_name):
            self.request("POST", f"/api/v1/deals/{deal['id']}/move/", json={"stage": stage})
        return int(deal["id"])


def _moves_backwards(deal: dict[str, Any], stage_name: str) -> bool:
    """A bought car stays bought: a late "abandoned" (a second tab, an earlier decline) never reopens a won deal."""
    return deal.get("status") == "won" and stage_name != STAGE_WON

