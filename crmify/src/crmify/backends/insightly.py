"""Insightly (REST API v3.1): leads, lead status and lead source by name.

Auth: the API key as the basic-auth user name with an empty password. The base URL is per pod
(``https://api.<pod>.insightly.com/v3.1``); set ``base_url`` in BACKEND_AUTH (or ``CRMIFY_BACKEND_URL``) for a
pod other than ``na1``.
"""

from __future__ import annotations

from typing import Any

from crmify.backends.base import HttpBackend, PermanentError

FIELDS = {
    "first_name": "FIRST_NAME",
    "last_name": "LAST_NAME",
    "email": "EMAIL",
    "phone": "PHONE",
    "mobile_phone": "MOBILE",
    "street_address": "ADDRESS_STREET",
    "city": "ADDRESS_CITY",
    "state": "ADDRESS_STATE",
    "country": "ADDRESS_COUNTRY",
}


def name_key(name: str) -> str:
    return "".join(name.split()).casefold()


class InsightlyBackend(HttpBackend):
    default_base_url = "https://api.na1.insightly.com/v3.1"

    def __init__(self, **auth: Any) -> None:
        super().__init__(**auth)
        self._statuses: dict[str, int] | None = None
        self._sources: dict[str, int] | None = None

    def client_kwargs(self) -> dict[str, Any]:
        if not self.api_key:
            raise PermanentError("Insightly needs an API key (CRMIFY_BACKEND_AUTH_API_KEY).")
        return {"auth": (self.api_key, ""), "headers": {"Accept": "application/json"}}

    def lookup(self, path: str, id_field: str, name_field: str) -> dict[str, int]:
        rows = self.request("GET", path).json()
        return {name_key(row[name_field]): row[id_field] for row in rows if row.get(name_field)}

    def status_id(self, status: str) -> int | None:
        if not status:
            return None
        if self._statuses is None:
            self._statuses = self.lookup("/LeadStatuses", "LEAD_STATUS_ID", "LEAD_STATUS")
        return self._statuses.get(name_key(status))

    def source_id(self, source: str) -> int | None:
        if not source:
            return None
        if self._sources is None:
            self._sources = self.lookup("/LeadSources", "LEAD_SOURCE_ID", "LEAD_SOURCE")
        return self._sources.get(name_key(source))

    def payload(self, lead: Any) -> dict[str, Any]:
        body: dict[str, Any] = {api: getattr(lead, field) or None for field, api in FIELDS.items()}
        # Insightly requires a last name on a lead; fall back to what identifies the person.
        body["LAST_NAME"] = body["LAST_NAME"] or lead.email or lead.first_name or f"Lead {lead.anchor_key}"
        status_id = self.status_id(lead.external_status)
        if status_id is not None:
            body["LEAD_STATUS_ID"] = status_id
        source_id = self.source_id(lead.lead_source)
        if source_id is not None:
            body["LEAD_SOURCE_ID"] = source_id
        return body

    def sync_lead(self, lead: Any) -> str:
        body = self.payload(lead)
        if lead.external_id:
            body["LEAD_ID"] = int(lead.external_id)
            response = self.request("PUT", "/Leads", json=body, ok=(200, 404))
            if response.status_code == 200:
                return str(response.json()["LEAD_ID"])
            body.pop("LEAD_ID")  # deleted in Insightly meanwhile: create it again
        response = self.request("POST", "/Leads", json=body)
        return str(response.json()["LEAD_ID"])

    def delete_lead(self, lead_id: str) -> bool:
        response = self.request("DELETE", f"/Leads/{int(lead_id)}", ok=(200, 202, 204, 404))
        return response.status_code != 404
