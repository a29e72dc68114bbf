"""Kith: contacts through its REST API, events through its Segment-compatible event API.

``BACKEND_AUTH = {"api_key": "kith_…", "base_url": "https://crm.example.com"}``. The key needs the ``write``
scope for contacts and ``events`` for ``crmify.track``. Leads are upserted by external id (the host record's
primary key), so a lead created twice — a retried call whose answer was lost — is still one contact.
"""

from __future__ import annotations

import re
from typing import Any

from crmify.backends.base import HttpBackend, PermanentError

KITH_LEAD_STATUSES = {"new", "not_contacted", "contacted", "qualified", "converted", "disqualified"}
FIELDS = ("first_name", "last_name", "email", "phone")


def kith_status(status: str) -> str | None:
    """``NotContacted`` → ``not_contacted``; a status Kith does not know is left out (the contact keeps its own)."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", status.replace(" ", "")).lower()
    return snake if snake in KITH_LEAD_STATUSES else None


class KithBackend(HttpBackend):
    default_base_url = "http://127.0.0.1:8000"

    def client_kwargs(self) -> dict[str, Any]:
        if not self.api_key:
            raise PermanentError("Kith needs an API key (CRMIFY_BACKEND_AUTH_API_KEY).")
        return {"headers": {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}}

    def contact(self, lead: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"external_id": lead.anchor_key, "source": lead.lead_source or "crmify"}
        for field in FIELDS:
            value = getattr(lead, field)
            if value:
                body[field] = value
        status = kith_status(lead.external_status or "")
        if status:
            body["lead_status"] = status
        return body

    def sync_lead(self, lead: Any) -> str:
        response = self.request("POST", "/api/v1/contacts/upsert/", json=self.contact(lead))
        return str(response.json()["id"])

    def sync_leads(self, leads: list[Any]) -> list[str | Exception]:
        response = self.request("POST", "/api/v1/contacts/bulk/", json={"items": [self.contact(x) for x in leads]})
        outcomes: list[str | Exception] = []
        for item in sorted(response.json()["results"], key=lambda r: r["index"]):
            if item["status"] == "error":
                outcomes.append(PermanentError(f"Kith refused the lead: {item['errors']}"))
            else:
                outcomes.append(str(item["id"]))
        return outcomes

    def delete_lead(self, lead_id: str) -> bool:
        response = self.request("DELETE", f"/api/v1/contacts/{int(lead_id)}/", ok=(204, 404))
        return response.status_code == 204

    def track(self, lead: Any, event: str, properties: dict[str, Any], timestamp: str | None, *,
              message_id: str) -> None:
        body = {"userId": lead.anchor_key, "event": event, "properties": properties, "messageId": message_id}
        if timestamp:
            body["timestamp"] = timestamp
        # The event API takes the key as HTTP basic user name, as Segment's clients send it; messageId makes a
        # retried delivery a no-op.
        self.request("POST", "/v1/track", json=body, auth=(self.api_key, ""))
