"""Prepare a Kith server for the storefront: a workspace, an API key for crmify, the delivery settings and the
message templates. Run with Kith's own Python and settings, on the Kith host::

    cd server && KITH_DATA_DIR=... python ../examples/storefront/kith_setup/bootstrap.py \
        --store-url http://127.0.0.1:8001 --out /path/bootstrap.json

Why a script inside Kith rather than REST calls: Kith has no REST API yet for what is done here — creating a
workspace, the first API key, the workspace's delivery settings and message templates (they are made in the
UI). Everything else (pipeline, workflows) is configured over the REST API by ``manage.py
storefront_configure_kith``. The script goes through Kith's services (audit rows included), never raw ORM writes,
and is idempotent except for the API key: a new key is made on every run (a key's secret is shown once). A
template whose content differs from ``content.py`` (say, the store's URL changed) gets a new version.

Writes ``{"workspace": id, "api_key": "kith_…", "templates": {"welcome": id, ...}}`` to ``--out`` (mode 0600).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import django

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # content.py, without importing the store's Django project

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kith.settings")
django.setup()

from allauth.account.models import EmailAddress
from content import SMS_TEMPLATES, TEMPLATE_KEYS, email_templates
from django.contrib.auth import get_user_model
from django.db import transaction
from kith.accounts.demo import DEMO_EMAIL, DEMO_PASSWORD
from kith.accounts.models import ApiKeyScope, Role, Workspace
from kith.accounts.services import api_key_create, workspace_create
from kith.messaging.models import Channel, Template
from kith.messaging.services import (
    delivery_settings_update,
    template_create,
    template_version_create,
)

WORKSPACE_NAME = "Kars storefront"


def owner_get() -> object:
    """``make run``'s demo owner (created here if kith_demo has not run), so one login shows the store's
    workspace next to the demo one."""
    User = get_user_model()
    user = User.objects.filter(email=DEMO_EMAIL).first()
    if user is None:
        user = User.objects.create_user(DEMO_EMAIL, DEMO_PASSWORD, full_name="Dana Demo")
        EmailAddress.objects.update_or_create(user=user, email=DEMO_EMAIL,
                                              defaults={"verified": True, "primary": True})
    return user


@transaction.atomic
def bootstrap(*, store_url: str, sms_from: str) -> dict[str, object]:
    owner = owner_get()
    workspace = Workspace.objects.filter(name=WORKSPACE_NAME, memberships__user=owner,
                                         memberships__role=Role.OWNER).first()
    if workspace is None:
        workspace = workspace_create(name=WORKSPACE_NAME, owner=owner)
    # Before the templates: a template version that names no sender takes the workspace's sender defaults.
    delivery_settings_update(workspace=workspace, actor=owner, data={
        "from_name": "Kars", "from_email": "hello@kars.localhost", "reply_to": "hello@kars.localhost",
        "sms_backend": "http", "sms_from": sms_from})
    ids: dict[str, int] = {}
    contents = {**{name: (Channel.EMAIL, c) for name, c in email_templates(store_url).items()},
                **{name: (Channel.SMS, c) for name, c in SMS_TEMPLATES.items()}}
    for key, name in TEMPLATE_KEYS.items():
        channel, content = contents[name]
        template = Template.objects.for_workspace(workspace).filter(name=name).select_related(
            "current_version").first()
        if template is None:
            template = template_create(workspace=workspace, actor=owner, name=name, content=content, channel=channel)
        elif template.current_version is None or any(
                getattr(template.current_version, field) != value for field, value in content.items()):
            # The content changed (or the store moved to another URL): a new version, the old one stays on record.
            template_version_create(template=template, actor=owner, content=content)
        ids[key] = template.pk
    _, secret = api_key_create(workspace=workspace, actor=owner, name="Kars storefront (crmify)",
                               scopes=[ApiKeyScope.READ, ApiKeyScope.WRITE, ApiKeyScope.EVENTS])
    return {"workspace": workspace.pk, "api_key": secret, "templates": ids}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-url", required=True, help="Where the store runs (links in the e-mails).")
    parser.add_argument("--sms-from", default="Kars", help="SMS sender id or number.")
    parser.add_argument("--out", required=True, help="Where to write the JSON result (it holds the API key).")
    args = parser.parse_args()
    result = bootstrap(store_url=args.store_url, sms_from=args.sms_from)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    out.chmod(0o600)
    print(f"Kith workspace {result['workspace']} ready; API key and template ids in {out}")


if __name__ == "__main__":
    main()
