"""Lead conversion: a lead becomes a contact with a company and an open deal, in one action and one transaction."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.db import transaction

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts import services as contact_services
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Company, Contact, LeadStatus, LifecycleStage
from kith.core.audit import audit_record
from kith.core.errors import Conflict
from kith.deals import selectors
from kith.deals.models import Deal, Pipeline
from kith.deals.services.deals import deal_create
from kith.deals.services.pipelines import pipeline_create

_FREEMAIL_FILE = Path(__file__).resolve().parent.parent / "data" / "freemail.txt"


@cache
def freemail_domains() -> frozenset[str]:
    lines = _FREEMAIL_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _email_domain(contact: Contact) -> str:
    domain = contact.email.rpartition("@")[2].strip().lower()
    return "" if domain in freemail_domains() else domain


def _company_for(*, workspace: Workspace, contact: Contact, actor: Any, membership: Membership | None,
                 company_name: str | None) -> Company | None:
    """The contact's company when it has one; else the company of its e-mail domain (found or created); else a new
    company named ``company_name``; else none."""
    name = (company_name or "").strip()
    if contact.company_id is not None and not name:
        return contact.company
    domain = _email_domain(contact)
    if domain:
        found = contact_selectors.company_list(workspace=workspace, membership=membership).filter(
            domain=domain).first()
        if found is not None:
            return found
        company, _ = contact_services.company_upsert(workspace=workspace, actor=actor, membership=membership,
                                                     data={"domain": domain, "name": name or domain})
        return company
    if name:
        return contact_services.company_create(workspace=workspace, actor=actor, membership=membership,
                                               data={"name": name})
    return None


@transaction.atomic
def lead_convert(
    *,
    workspace: Workspace,
    contact: Contact,
    actor: Any,
    company_name: str | None = None,
    deal_name: str | None = None,
    value: Decimal | None = None,
    pipeline: Pipeline | None = None,
    membership: Membership | None = None,
) -> Deal:
    """Convert ``contact``: link (or create) its company, open a deal in the first stage of ``pipeline`` (the
    workspace's default, created with the default stages if there is none), and mark the contact ``converted`` /
    ``opportunity``. Everything commits together or not at all. Converting a contact twice is refused."""
    if contact.workspace_id != workspace.pk:
        raise InvalidFields({"contact": ["No such contact in this workspace."]})
    if contact.lead_status == LeadStatus.CONVERTED:
        raise Conflict("This contact has already been converted.")
    company = _company_for(workspace=workspace, contact=contact, actor=actor, membership=membership,
                           company_name=company_name)
    if pipeline is None:
        pipeline = selectors.pipeline_default(workspace=workspace) or pipeline_create(
            workspace=workspace, actor=actor, name="Sales")
    person = " ".join(p for p in (contact.first_name, contact.last_name) if p) or contact.email or "New lead"
    name = (deal_name or "").strip() or (f"{company.name} deal" if company else f"{person} deal")
    owner = contact.owner or (membership.user if membership is not None else None)
    deal = deal_create(workspace=workspace, actor=actor, pipeline=pipeline, name=name, value=value,
                       owner=owner, contact=contact, company=company)
    changes: dict[str, Any] = {"lead_status": LeadStatus.CONVERTED, "lifecycle_stage": LifecycleStage.OPPORTUNITY}
    if company is not None and contact.company_id != company.pk:
        changes["company"] = company.pk
    contact_services.contact_update(contact=contact, actor=actor, data=changes, membership=membership)
    audit_record(action="lead.converted", actor=actor, workspace=workspace, target=contact,
                 after={"deal": deal.pk, "company": company.pk if company else None, "pipeline": pipeline.pk})
    return deal
