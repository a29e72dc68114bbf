"""Misconfiguration is reported by Django's system checks with the setting to fix."""

from django.core import checks
from django.test import override_settings

from crmify.checks import check_settings
from crmify.mappers import LeadModelFieldMapper


class BadMapper(LeadModelFieldMapper):
    field_mapping = {"no_such_field": "first_name", "email": "not_a_lead_field"}


BASE = {"BACKEND": "crmify.backends.test.TestBackend", "DELIVERY": "manual"}


def ids(**crmify):
    with override_settings(CRMIFY={**BASE, **crmify}):
        return sorted({m.id for m in check_settings()})


def test_default_test_configuration_is_clean():
    assert ids() == []


def test_bad_backend_path():
    assert ids(BACKEND="crmify.backends.nope.Nope") == ["crmify.E002"]


def test_vendor_backend_without_api_key(monkeypatch):
    monkeypatch.delenv("CRMIFY_BACKEND_AUTH_API_KEY", raising=False)
    assert ids(BACKEND="crmify.backends.insightly.InsightlyBackend") == ["crmify.E004"]
    monkeypatch.setenv("CRMIFY_BACKEND_AUTH_API_KEY", "k")
    assert ids(BACKEND="crmify.backends.insightly.InsightlyBackend") == []


def test_unknown_lead_model():
    assert ids(LEAD_MODEL="nowhere.models.Person") == ["crmify.E005"]


def test_mapper_naming_unknown_fields():
    with override_settings(CRMIFY={**BASE, "LEAD_MODEL_FIELDMAPPER": "tests.test_checks.BadMapper"}):
        messages = check_settings()
    text = " ".join(m.msg for m in messages)
    assert {m.id for m in messages} == {"crmify.E008"}
    assert "no_such_field" in text and "not_a_lead_field" in text


def test_status_model_must_implement_lead_status():
    assert ids(LEAD_STATUS_MODEL="tests.hostapp.models.Unrelated") == ["crmify.E010"]
    assert ids(LEAD_STATUS_MODEL="tests.hostapp.models.Purchase") == []


def test_checks_are_registered():
    assert check_settings in checks.registry.registry.registered_checks
