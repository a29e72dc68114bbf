"""The workflow endpoints keep their OpenAPI promises (the project-wide contract test, narrowed to this app so a
failure here names a workflow operation): schemathesis sends valid and invalid requests to every workflow
operation; none may answer 5xx, and every answer must match the document."""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from tests.test_api_contract import api_schema  # noqa: F401 — the schema fixture

from kith.accounts.services import api_key_create
from kith.contacts.services import contact_create
from kith.workflows.services import workflow_create, workflow_enroll

pytestmark = pytest.mark.django_db
OPAQUE_INPUT_CHECKS = [checks.positive_data_acceptance]


def test_every_workflow_operation_answers_within_its_contract(api_schema, personas):  # noqa: F811
    _, raw = api_key_create(workspace=personas.acme, actor=personas.alice, name="contract", scopes=["read", "write"])
    dana = contact_create(workspace=personas.acme, actor=None, data={"email": "dana@example.com"})
    workflow = workflow_create(workspace=personas.acme, actor=personas.alice, data={
        "name": "Existing", "definition": {"steps": [{"id": "w", "kind": "wait", "duration": {"days": 1}}]}})
    workflow_enroll(workflow=workflow, actor=personas.alice, contact_ids=[dana.pk])
    headers = {"Authorization": f"Bearer {raw}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    operations = [operation for operation in operations if "/workflow" in operation.path]
    assert len(operations) >= 10

    for operation, mode in itertools.product(operations, list(schemathesis.GenerationMode)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, excluded_checks=OPAQUE_INPUT_CHECKS)

        check()
