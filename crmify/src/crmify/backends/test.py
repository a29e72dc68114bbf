"""An in-memory backend for host projects' tests: ``CRMIFY = {"BACKEND": "crmify.backends.test.TestBackend"}``.

``TestBackend.leads`` holds what the "CRM" has (external id → values), ``TestBackend.events`` what was tracked.
Set ``TestBackend.outage = True`` to make every call fail temporarily, as a CRM outage would.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, ClassVar

from crmify.backends.base import TemporaryError

LEAD_FIELDS = ("lead_source", "first_name", "last_name", "email", "secondary_email", "phone", "mobile_phone", "dob",
               "street_address", "city", "state", "country", "external_status", "anchor_key")


class TestBackend:
    __test__ = False  # not a pytest test class
    leads: ClassVar[dict[str, dict[str, Any]]] = {}
    events: ClassVar[list[dict[str, Any]]] = []
    calls: ClassVar[list[tuple[str, Any]]] = []
    outage: ClassVar[bool] = False
    _ids = itertools.count(1)
    _lock = threading.Lock()

    def __init__(self, **auth: Any) -> None:
        self.auth = auth

    @classmethod
    def reset(cls) -> None:
        with cls._lock:
            cls.leads.clear()
            cls.events.clear()
            cls.calls.clear()
            cls.outage = False

    def _check(self) -> None:
        if type(self).outage:
            raise TemporaryError("the test CRM is down")

    def sync_lead(self, lead: Any) -> str:
        self._check()
        with self._lock:
            external_id = lead.external_id or f"test-{next(self._ids)}"
            self.leads[external_id] = {name: getattr(lead, name) for name in LEAD_FIELDS}
            self.calls.append(("sync", external_id))
        return external_id

    def delete_lead(self, lead_id: str) -> bool:
        self._check()
        with self._lock:
            self.calls.append(("delete", lead_id))
            return self.leads.pop(lead_id, None) is not None

    def track(self, lead: Any, event: str, properties: dict[str, Any], timestamp: str | None, *,
              message_id: str) -> None:
        self._check()
        with self._lock:
            if any(e["message_id"] == message_id for e in self.events):
                return
            self.events.append({"lead": lead.external_id, "event": event, "properties": properties,
                                "timestamp": timestamp, "message_id": message_id})
