"""HubSpot CRM contacts (API v3) with a private-app access token.

Lead statuses map onto HubSpot's ``hs_lead_status`` and ``lifecyclestage`` (``STATUS_MAP``; override by
subclassing). HubSpot's rate limits answer 429 with ``Retry-After`` semantics in its headers; the delivery loop
backs off accordingly.
"""

from __future__ import annotations

import re
from typing import Any

from crmify.backends.base import HttpBackend, PermanentError

PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "street_address": "address",
    "city": "city",
    "state": "state",
    "country": "country",
}

EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")


class HubSpotBackend(HttpBackend):
    default_base_url = "https://api.hubapi.com"
    STATUS_MAP: dict[str, dict[str, str]] = {
        "NotContacted": {"hs_lead_status": "NEW", "lifecyclestage": "lead"},
        "Contacted": {"hs_lead_status": "ATTEMPTED_TO_CONTACT", "lifecyclestage": "lead"},
        "Converted": {"hs_lead_status": "CONNECTED", "lifecyclestage": "customer"},
        "Disqualified": {"hs_lead_status": "UNQUALIFIED"},
    }

    def client_kwargs(self) -> dict[str, Any]:
        token = self.api_key or self.password
        if not token:
            raise PermanentError("HubSpot needs a private-app access token (CRMIFY_BACKEND_AUTH_API_KEY).")
        return {"headers": {"Authorization": f"Bearer {token}", "Accept": "application/json"}}

    def properties(self, lead: Any) -> dict[str, str]:
        props = {api: getattr(lead, field) for field, api in PROPERTIES.items() if getattr(lead, field)}
        if lead.dob:
            props["date_of_birth"] = lead.dob.isoformat()
        props.update(self.STATUS_MAP.get(lead.external_status, {}))
        return props

    def sync_lead(self, lead: Any) -> str:
        body = {"properties": self.properties(lead)}
        if lead.external_id:
            response = self.request("PATCH", f"/crm/v3/objects/contacts/{lead.external_id}", json=body,
                                    ok=(200, 404))
            if response.status_code == 200:
                return str(response.json()["id"])
        response = self.request("POST", "/crm/v3/objects/contacts", json=body, ok=(200, 201, 409))
        if response.status_code == 409:
            # The e-mail address belongs to a contact already: HubSpot names it in the message; update that one.
            match = EXISTING_ID.search(response.text)
            if not match:
                raise PermanentError(f"HubSpot reported a conflict without the existing id: {response.text[:300]}")
            existing = match.group(1)
            self.request("PATCH", f"/crm/v3/objects/contacts/{existing}", json=body)
            return existing
        return str(response.json()["id"])

    def delete_lead(self, lead_id: str) -> bool:
        response = self.request("DELETE", f"/crm/v3/objects/contacts/{lead_id}", ok=(204, 404))
        return response.status_code == 204
