"""Every shipped backend runs the same contract; the vendor ones against local stand-ins of their APIs."""

import os

import pytest

from crmify.backends.base import PermanentError, TemporaryError
from crmify.backends.hubspot import HubSpotBackend
from crmify.backends.insightly import InsightlyBackend
from crmify.backends.test import TestBackend
from crmify.testing import BackendContract, unsaved_lead
from tests.standins import HubSpotStandIn, InsightlyStandIn


class TestTestBackendContract(BackendContract):
    def make_backend(self):
        return TestBackend()

    def crm_record(self, external_id):
        record = TestBackend.leads.get(external_id)
        return None if record is None else {**record, "status": record["external_status"]}


class HttpFailureContract:
    """What every HTTP backend does when the CRM misbehaves; ``standin`` is the running stand-in."""

    def test_429_is_temporary_with_retry_after(self):
        self.standin.fail_next.append((429, {"Retry-After": "7"}, '{"message": "rate limited"}'))
        with pytest.raises(TemporaryError) as caught:
            self.make_backend().sync_lead(unsaved_lead())
        assert caught.value.retry_after == 7.0

    def test_server_error_is_temporary(self):
        self.standin.fail_next.append((503, {}, "maintenance"))
        with pytest.raises(TemporaryError):
            self.make_backend().sync_lead(unsaved_lead())

    def test_timeout_is_temporary(self):
        self.standin.delay = 1.0
        backend = self.make_backend()
        backend.timeout = 0.2
        with pytest.raises(TemporaryError, match="timed out"):
            backend.sync_lead(unsaved_lead())
        self.standin.delay = 0.0

    def test_unreachable_crm_is_temporary(self):
        backend = self.make_backend()
        backend.base_url = "http://127.0.0.1:9"  # discard port: connection refused
        with pytest.raises(TemporaryError):
            backend.sync_lead(unsaved_lead())

    def test_bad_credentials_are_permanent(self):
        backend = self.make_backend()
        backend.api_key = "wrong"
        with pytest.raises(PermanentError):
            backend.sync_lead(unsaved_lead())


class TestInsightlyBackend(BackendContract, HttpFailureContract):
    @pytest.fixture(autouse=True)
    def _standin(self):
        with InsightlyStandIn() as standin:
            self.standin = standin
            yield

    def make_backend(self):
        return InsightlyBackend(api_key=InsightlyStandIn.API_KEY, base_url=f"{self.standin.url}/v3.1")

    def crm_record(self, external_id):
        record = self.standin.records.get(int(external_id))
        if record is None:
            return None
        statuses = {s["LEAD_STATUS_ID"]: s["LEAD_STATUS"] for s in InsightlyStandIn.STATUSES}
        return {"first_name": record["FIRST_NAME"], "last_name": record["LAST_NAME"], "email": record["EMAIL"],
                "status": statuses.get(record.get("LEAD_STATUS_ID"))}

    def test_lead_source_by_name(self):
        external_id = self.make_backend().sync_lead(unsaved_lead(lead_source="Web"))
        assert self.standin.records[int(external_id)]["LEAD_SOURCE_ID"] == 7

    def test_lead_deleted_in_insightly_is_created_again(self):
        backend = self.make_backend()
        lead = unsaved_lead()
        lead.external_id = backend.sync_lead(lead)
        self.standin.records.clear()
        new_id = backend.sync_lead(lead)
        assert new_id != lead.external_id and self.crm_record(new_id) is not None


class TestHubSpotBackend(BackendContract, HttpFailureContract):
    @pytest.fixture(autouse=True)
    def _standin(self):
        with HubSpotStandIn() as standin:
            self.standin = standin
            yield

    def make_backend(self):
        return HubSpotBackend(api_key=HubSpotStandIn.TOKEN, base_url=self.standin.url)

    def crm_record(self, external_id):
        record = self.standin.records.get(int(external_id))
        if record is None:
            return None
        props = record["properties"]
        by_hs_status = {v.get("hs_lead_status"): k for k, v in HubSpotBackend.STATUS_MAP.items()}
        return {"first_name": props.get("firstname"), "last_name": props.get("lastname"),
                "email": props.get("email"), "status": by_hs_status.get(props.get("hs_lead_status"))}

    def test_existing_email_conflict_updates_that_contact(self):
        backend = self.make_backend()
        first = backend.sync_lead(unsaved_lead(email="dup@example.com"))
        second = backend.sync_lead(unsaved_lead(email="dup@example.com", first_name="Again"))
        assert first == second and self.crm_record(first)["first_name"] == "Again"

    def test_converted_becomes_a_customer(self):
        external_id = self.make_backend().sync_lead(unsaved_lead(external_status="Converted"))
        assert self.standin.records[int(external_id)]["properties"]["lifecyclestage"] == "customer"


@pytest.mark.vendor_credentials
@pytest.mark.skipif(not os.environ.get("CRMIFY_INSIGHTLY_LIVE_KEY"), reason="needs a real Insightly API key")
def test_insightly_live_round_trip():
    backend = InsightlyBackend(api_key=os.environ["CRMIFY_INSIGHTLY_LIVE_KEY"],
                               base_url=os.environ.get("CRMIFY_INSIGHTLY_LIVE_URL", ""))
    external_id = backend.sync_lead(unsaved_lead(email="crmify-live-test@example.com"))
    assert backend.delete_lead(external_id) is True
