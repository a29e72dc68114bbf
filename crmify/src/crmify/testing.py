"""Test helpers for crmify and for host projects that write their own backend.

``BackendContract`` is the behaviour every backend must show. Subclass it in a pytest test class and provide
``make_backend()`` and ``crm_record(external_id)`` (the CRM's stored record as a dict of crmify field names, or
``None``); every shipped backend runs it (the vendor ones against local stand-ins of their APIs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass
class LeadData:
    """What a backend reads from a ``crmify.models.Lead``, without needing crmify's tables (or INSTALLED_APPS)."""

    first_name: str = "Ana"
    last_name: str = "Lima"
    email: str = "ana.lima@example.com"
    external_status: str = "NotContacted"
    anchor_key: str = "4711"
    lead_source: str = ""
    secondary_email: str = ""
    phone: str = ""
    mobile_phone: str = ""
    dob: dt.date | None = None
    street_address: str = ""
    city: str = ""
    state: str = ""
    country: str = ""
    external_id: str = ""


def unsaved_lead(**values: Any) -> LeadData:
    return LeadData(**values)


class BackendContract:
    def make_backend(self) -> Any:
        raise TypeError("subclass responsibility")

    def crm_record(self, external_id: str) -> dict[str, Any] | None:
        raise TypeError("subclass responsibility")

    def test_sync_creates_and_returns_the_crm_id(self) -> None:
        lead = unsaved_lead()
        external_id = self.make_backend().sync_lead(lead)
        assert isinstance(external_id, str) and external_id
        record = self.crm_record(external_id)
        assert record is not None
        assert (record["first_name"], record["last_name"], record["email"]) == ("Ana", "Lima", "ana.lima@example.com")

    def test_sync_of_a_known_lead_updates_it_in_place(self) -> None:
        backend = self.make_backend()
        lead = unsaved_lead()
        lead.external_id = backend.sync_lead(lead)
        lead.first_name = "Anabel"
        assert backend.sync_lead(lead) == lead.external_id
        assert self.crm_record(lead.external_id)["first_name"] == "Anabel"

    def test_non_ascii_values_survive(self) -> None:
        lead = unsaved_lead(first_name="Zoë", last_name="Ødegård 李", email="zoe@example.com")
        record = self.crm_record(self.make_backend().sync_lead(lead))
        assert (record["first_name"], record["last_name"]) == ("Zoë", "Ødegård 李")

    def test_status_reaches_the_crm(self) -> None:
        lead = unsaved_lead(external_status="Converted", email="converted@example.com")
        record = self.crm_record(self.make_backend().sync_lead(lead))
        assert record["status"] == "Converted"

    def test_delete(self) -> None:
        backend = self.make_backend()
        external_id = backend.sync_lead(unsaved_lead(email="bye@example.com"))
        assert backend.delete_lead(external_id) is True
        assert self.crm_record(external_id) is None
        assert backend.delete_lead(external_id) is False  # already gone: no error
