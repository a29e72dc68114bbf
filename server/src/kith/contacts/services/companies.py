"""Writes of companies: create, update, delete and upsert by domain, each audited."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db import IntegrityError, transaction

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.attributes import attributes_clean
from kith.contacts.errors import DuplicateRecord, FieldErrors, InvalidFields
from kith.contacts.models import Company, ObjectType
from kith.contacts.services._common import (
    COMPANY_AUDIT_FIELDS,
    WriteContext,
    assign,
    reference_id,
    reference_ids,
    write_context,
)
from kith.contacts.validation import company_fields_clean, normalize_domain
from kith.core.audit import audit_record, diff, snapshot


def company_values_prepare(
    *, ctx: WriteContext, raw: Mapping[str, Any], current: Company | None, member_ids: Collection[int]
) -> dict[str, Any]:
    """Validate one company write and return the model values to assign (``owner`` as ``owner_id``).
    Raises ``InvalidFields`` with every problem found."""
    fields, errors = company_fields_clean(raw)
    values = {name: value for name, value in fields.items() if name not in ("owner", "attributes")}
    if current is None and "name" not in fields:
        errors.add("name", "A company needs a name.")
    if "owner" in fields:
        try:
            owner_id = reference_id(fields["owner"])
        except ValueError as exc:
            errors.add("owner", str(exc))
        else:
            if owner_id is not None and owner_id not in member_ids:
                errors.add("owner", "The owner must be a member of this workspace.")
            else:
                values["owner_id"] = owner_id
    elif current is None and selectors.sees_only_own(ctx.membership):
        assert ctx.membership is not None
        values["owner_id"] = ctx.membership.user_id
    if "attributes" in fields or current is None:
        try:
            values["attributes"] = attributes_clean(
                definitions=ctx.definitions,
                values=fields.get("attributes", {}),
                current=None if current is None else current.attributes,
            )
        except InvalidFields as exc:
            errors.merge(exc)
    errors.raise_if_any()
    return values


def _domain_conflict(company: Company) -> FieldErrors:
    errors = FieldErrors()
    if company.domain and (
        Company.objects.filter(workspace_id=company.workspace_id, domain=company.domain).exclude(pk=company.pk).exists()
    ):
        errors.add("domain", "A company with this domain already exists.")
    return errors


def _save_unique(company: Company, *, update_fields: list[str] | None) -> None:
    if conflict := _domain_conflict(company):
        raise DuplicateRecord(conflict.errors)
    try:
        with transaction.atomic():
            company.save(update_fields=update_fields)
    except IntegrityError as exc:
        if conflict := _domain_conflict(company):
            raise DuplicateRecord(conflict.errors) from exc
        raise


def _member_ids(ctx: WriteContext, raw: Mapping[str, Any]) -> set[int]:
    return selectors.member_user_ids(workspace=ctx.workspace, user_ids=reference_ids([raw], "owner"))


@transaction.atomic
def company_create(
    *, workspace: Workspace, actor: Any, data: Mapping[str, Any], membership: Membership | None = None
) -> Company:
    """Create a company. ``data`` needs a ``name``; a ``domain`` is normalized (``https://www.Acme.com/`` →
    ``acme.com``) and unique in the workspace. Raises ``InvalidFields`` (``DuplicateRecord`` for a taken domain)."""
    ctx = write_context(workspace=workspace, membership=membership, object_type=ObjectType.COMPANY)
    values = company_values_prepare(ctx=ctx, raw=data, current=None, member_ids=_member_ids(ctx, data))
    company = Company(workspace=workspace)
    assign(company, values)
    _save_unique(company, update_fields=None)
    audit_record(action="company.created", actor=actor, workspace=workspace, target=company,
                 after=snapshot(company, COMPANY_AUDIT_FIELDS))
    return company


@transaction.atomic
def company_update(
    *, company: Company, actor: Any, data: Mapping[str, Any], membership: Membership | None = None
) -> Company:
    """Change the fields named in ``data`` (attributes merge key by key); audited with before/after."""
    # of=self: lock the row, not the joined workspace (which would serialize every write in the workspace).
    locked = Company.objects.select_for_update(of=("self",)).select_related("workspace").get(pk=company.pk)
    ctx = write_context(workspace=locked.workspace, membership=membership, object_type=ObjectType.COMPANY)
    values = company_values_prepare(ctx=ctx, raw=data, current=locked, member_ids=_member_ids(ctx, data))
    before = snapshot(locked, COMPANY_AUDIT_FIELDS)
    changed = assign(locked, values)
    if changed:
        _save_unique(locked, update_fields=[*changed, "updated_at"])
        old, new = diff(before, snapshot(locked, COMPANY_AUDIT_FIELDS))
        audit_record(action="company.updated", actor=actor, workspace=locked.workspace, target=locked,
                     before=old, after=new)
    return locked


@transaction.atomic
def company_delete(*, company: Company, actor: Any) -> None:
    """Delete ``company``; its contacts stay, without a company."""
    audit_record(action="company.deleted", actor=actor, workspace=company.workspace, target=company,
                 before=snapshot(company, COMPANY_AUDIT_FIELDS))
    company.delete()


@transaction.atomic
def company_upsert(
    *, workspace: Workspace, actor: Any, data: Mapping[str, Any], membership: Membership | None = None
) -> tuple[Company, bool]:
    """Update the company with ``data``'s domain, or create it; returns it and whether it was created.

    A company the writer may not see is refused rather than updated. A concurrent upsert of the same new domain
    makes one insert lose on the unique domain; that one retries as an update.
    """
    try:
        domain = normalize_domain(data.get("domain"))
    except ValueError as exc:
        raise InvalidFields({"domain": [str(exc)]}) from exc
    if not domain:
        raise InvalidFields({"domain": ["An upsert matches companies by domain; give one."]})
    match = _domain_match(workspace=workspace, membership=membership, domain=domain)
    if match is None:
        try:
            with transaction.atomic():
                return company_create(workspace=workspace, actor=actor, data=data, membership=membership), True
        except DuplicateRecord:
            match = _domain_match(workspace=workspace, membership=membership, domain=domain)
            if match is None:
                raise
    return company_update(company=match, actor=actor, data=data, membership=membership), False


def _domain_match(*, workspace: Workspace, membership: Membership | None, domain: str) -> Company | None:
    match = Company.objects.for_workspace(workspace).select_for_update().filter(domain=domain).first()
    if match is not None and selectors.sees_only_own(membership):
        assert membership is not None
        if match.owner_id != membership.user_id:
            raise InvalidFields({"domain": ["This company exists and is assigned to another member."]})
    return match
