"""What ``manage.py storefront_configure_kith`` sets up in Kith, over Kith's REST API only.

The store sends facts (``Signed Up``, ``Purchase Started/Abandoned/Completed``, the lead and its status); the
behaviour the seed wanted — welcome e-mail, the delayed SMS for an abandoned purchase, the thank-you e-mail with a
share request — is Kith configuration, made here:

- the deal pipeline purchases move through (``cars.crm`` keeps one deal per purchase in it);
- four workflows: welcome e-mail on ``Signed Up``; SMS consent from the sign-up form; an SMS when a purchase stays
  abandoned for 30 minutes (a ``wait_event`` for ``Purchase Completed`` whose timeout sends the SMS, with
  ``Purchase Completed`` also the goal); the thank-you e-mail on ``Purchase Completed``.

Lead status (NotContacted → Contacted → Converted) is not a workflow: the store owns it (``Customer.lead_status``)
and crmify syncs it with the contact. A Kith workflow setting it would be overwritten by the next sync.

Idempotent: everything is found by name and updated in place (a changed workflow definition becomes a new version;
runs already going keep theirs), so running the command again after editing this file is how the workspace is
kept in step with the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from cars.crm import PIPELINE_STAGES

TEMPLATE_KEYS = ("welcome", "thank_you", "abandoned_sms")


class KithConfigError(Exception):
    """Kith refused a request (or could not be reached); the message says which and why."""


@dataclass
class KithApi:
    base_url: str
    api_key: str
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url.rstrip("/"), timeout=self.timeout,
                                   headers={"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"})

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise KithConfigError(f"{method} {path}: cannot reach Kith at {self.base_url} ({exc})") from exc
        if response.status_code >= 400:
            raise KithConfigError(f"{method} {path}: HTTP {response.status_code} {response.text[:1000]}")
        return response.json() if response.content else None

    def each(self, path: str) -> Iterator[dict[str, Any]]:
        """Every row of a cursor-paginated list."""
        url: str | None = path
        params: dict[str, Any] | None = {"page_size": 200}
        while url:
            body = self.call("GET", url, params=params)
            if isinstance(body, list):  # an unpaginated list
                yield from body
                return
            yield from body["results"]
            url, params = body.get("next"), None

    def close(self) -> None:
        self.client.close()


def workflow_specs(*, templates: dict[str, int], abandoned_after: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {
            "name": "Kars: welcome e-mail",
            "description": "Welcome new customers (the store sends Signed Up through crmify).",
            "trigger_kind": "event", "trigger_config": {"event": "Signed Up", "filters": []},
            "reentry": "once",
            "definition": {"steps": [{"id": "welcome", "kind": "send_email", "template": templates["welcome"]}]},
        },
        {
            "name": "Kars: SMS consent from sign-up",
            "description": "Customers who ticked 'Text me about my orders' at sign-up opt in to SMS.",
            "trigger_kind": "event",
            "trigger_config": {"event": "Signed Up",
                               "filters": [{"property": "sms_opt_in", "op": "eq", "value": True}]},
            "reentry": "once",
            "definition": {"steps": [{"id": "consent", "kind": "set_field", "field": "sms_consent",
                                      "value": "opted_in"}]},
        },
        {
            "name": "Kars: abandoned purchase SMS",
            "description": "Text customers whose purchase stays abandoned, unless they complete it first.",
            "trigger_kind": "event", "trigger_config": {"event": "Purchase Abandoned", "filters": []},
            "goal_event": "Purchase Completed",
            # One chase a day at most: a declined card followed by leaving the checkout is one abandonment.
            "reentry": "interval", "reentry_days": 1,
            "definition": {"steps": [
                {"id": "wait", "kind": "wait_event", "event": "Purchase Completed", "timeout": abandoned_after,
                 "next": None, "timeout_next": "sms"},
                {"id": "sms", "kind": "send_sms", "template": templates["abandoned_sms"]},
            ]},
        },
        {
            "name": "Kars: thank-you e-mail",
            "description": "Thank customers for each purchase and ask them to share it.",
            "trigger_kind": "event", "trigger_config": {"event": "Purchase Completed", "filters": []},
            "reentry": "always",
            "definition": {"steps": [{"id": "thanks", "kind": "send_email", "template": templates["thank_you"]}]},
        },
    ]


def pipeline_ensure(api: KithApi, *, name: str, say: Callable[[str], None]) -> dict[str, Any]:
    pipeline = next((p for p in api.each("/api/v1/pipelines/") if p["name"] == name), None)
    if pipeline is None:
        pipeline = api.call("POST", "/api/v1/pipelines/", json={"name": name, "stages": PIPELINE_STAGES})
        say(f"created pipeline {name!r}")
        return pipeline
    have = {stage["name"] for stage in pipeline["stages"]}
    for spec in PIPELINE_STAGES:
        if spec["name"] not in have:
            api.call("POST", "/api/v1/stages/", json={"pipeline": pipeline["id"], **spec})
            say(f"added stage {spec['name']!r} to pipeline {name!r}")
    say(f"pipeline {name!r} is ready")
    return pipeline


def workflow_ensure(api: KithApi, spec: dict[str, Any], existing: dict[str, dict[str, Any]],
                    say: Callable[[str], None]) -> dict[str, Any]:
    current = existing.get(spec["name"])
    if current is None:
        workflow = api.call("POST", "/api/v1/workflows/", json=spec)
        say(f"created workflow {spec['name']!r}")
    else:
        workflow = api.call("PATCH", f"/api/v1/workflows/{current['id']}/", json=spec)
        say(f"updated workflow {spec['name']!r} (version {workflow.get('version')})")
    if workflow.get("status") != "active":
        workflow = api.call("POST", f"/api/v1/workflows/{workflow['id']}/activate/")
    return workflow


def configure(*, api: KithApi, templates: dict[str, int], pipeline: str, abandoned_after: dict[str, int],
              say: Callable[[str], None]) -> dict[str, Any]:
    missing = [key for key in TEMPLATE_KEYS if key not in templates]
    if missing:
        raise KithConfigError(f"Give the template ids of: {', '.join(missing)}.")
    workspace = api.call("GET", "/api/v1/workspace/")
    say(f"configuring Kith workspace {workspace.get('name', '?')!r} at {api.base_url}")
    deal_pipeline = pipeline_ensure(api, name=pipeline, say=say)
    existing = {w["name"]: w for w in api.each("/api/v1/workflows/")}
    workflows = [workflow_ensure(api, spec, existing, say)
                 for spec in workflow_specs(templates=templates, abandoned_after=abandoned_after)]
    return {"workspace": workspace, "pipeline": deal_pipeline, "workflows": workflows}
