"""crmify's Kith backend against a real Kith (live server, real HTTP, a real API key): the same contract the
Insightly and HubSpot backends pass against their stand-ins."""

import pytest
from crmify.backends.base import PermanentError
from crmify.backends.kith import KithBackend
from crmify.testing import BackendContract, unsaved_lead

from kith.accounts.services import api_key_create
from kith.contacts.models import Contact

STATUS_NAMES = {"not_contacted": "NotContacted", "contacted": "Contacted", "converted": "Converted",
                "disqualified": "Disqualified", "new": "New", "qualified": "Qualified"}


class TestKithBackendContract(BackendContract):
    @pytest.fixture(autouse=True)
    def _kith(self, live_server, personas):
        self.workspace = personas.acme
        _, self.key = api_key_create(workspace=personas.acme, actor=personas.alice, name="crmify",
                                     scopes=["read", "write"])
        self.url = live_server.url

    def make_backend(self):
        return KithBackend(api_key=self.key, base_url=self.url)

    def crm_record(self, external_id):
        contact = Contact.objects.filter(workspace=self.workspace, pk=int(external_id)).first()
        if contact is None:
            return None
        return {"first_name": contact.first_name, "last_name": contact.last_name, "email": contact.email,
                "status": STATUS_NAMES[contact.lead_status]}

    def test_batched_sync_upserts_by_external_id(self):
        backend = self.make_backend()
        leads = [unsaved_lead(anchor_key=str(n), email=f"batch{n}@example.com") for n in range(5)]
        first = backend.sync_leads(leads)
        again = backend.sync_leads(leads)
        assert first == again and len(set(first)) == 5
        assert Contact.objects.filter(workspace=self.workspace, email__startswith="batch").count() == 5

    def test_a_revoked_or_wrong_key_is_permanent(self):
        backend = KithBackend(api_key="kith_nope_nope", base_url=self.url)
        with pytest.raises(PermanentError):
            backend.sync_lead(unsaved_lead())

    def test_track_reaches_the_event_api_once_per_message_id(self):
        from kith.events.models import Event

        backend = self.make_backend()
        lead = unsaved_lead(anchor_key="host-user-7")
        for _ in range(2):  # a retried delivery carries the same messageId
            backend.track(lead, "Purchase Completed", {"total": 1200}, "2026-11-20T10:00:00Z",
                          message_id="crmify-99")
        (event,) = Event.objects.filter(workspace=self.workspace)
        assert (event.name, event.user_id, event.properties) == ("Purchase Completed", "host-user-7", {"total": 1200})
