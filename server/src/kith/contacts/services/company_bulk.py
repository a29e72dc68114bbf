"""Bulk create/update of companies: up to ``MAX_BULK_ITEMS`` per call, a result per item, good items saved even
when others fail (the shared machinery is ``kith.contacts.bulk``).

An item with ``id`` updates that company; an item without one updates the company with its ``domain`` (as
``/companies/upsert/`` does) or creates one, so sending the same items twice creates nothing the second time.
Set-based: one locking query loads every company the batch names by id or domain, one resolves owners, then one
``bulk_create``, one batched ``bulk_update`` and one insert of audit rows. Each item is validated exactly as
``company_create``/``company_update`` validate (``company_values_prepare``), with the writer's visibility.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.bulk import (
    BulkItemResult,
    bulk_error,
    bulk_saved_status,
    bulk_size_check,
    insert_all_or_each,
    update_all_or_each,
)
from kith.contacts.errors import InvalidFields
from kith.contacts.models import Company, ObjectType
from kith.contacts.services._common import (
    COMPANY_AUDIT_FIELDS,
    assign,
    audit_entry_build,
    reference_ids,
    write_context,
)
from kith.contacts.services.companies import company_values_prepare
from kith.contacts.validation import normalize_domain
from kith.core import clock
from kith.core.audit import diff, snapshot
from kith.core.models import AuditEntry

DOMAIN_TAKEN = "A company with this domain already exists."
RACE_LOST_MESSAGE = "Another request took this domain meanwhile; send this item again to see the current state."


@dataclass
class _Item:
    index: int
    raw: dict[str, Any]
    company: Company
    created: bool
    before: dict[str, Any] | None = None
    changed: list[str] = field(default_factory=list)


@transaction.atomic
def company_bulk_write(
    *,
    workspace: Workspace,
    actor: Any,
    items: Sequence[Mapping[str, Any]],
    membership: Membership | None = None,
) -> list[BulkItemResult]:
    """Create or update each of ``items`` (company fields as for ``company_create``, plus an optional ``id``).

    Returns one result per item, in order. Two items naming the same company (by id or domain) are refused from
    the second on, so the outcome never depends on order within a request. Raises ``InvalidFields`` only for the
    request as a whole (more than ``MAX_BULK_ITEMS``)."""
    bulk_size_check(items)
    ctx = write_context(workspace=workspace, membership=membership, object_type=ObjectType.COMPANY)
    results: dict[int, BulkItemResult] = {}
    parsed = _parse(items, results)
    by_id, by_domain = _existing(workspace, parsed)
    members = selectors.member_user_ids(workspace=workspace, user_ids=reference_ids((raw for _, raw, _ in parsed),
                                                                                   "owner"))
    prepared: list[_Item] = []
    claimed: dict[str, int] = {}  # final domain → index of the item that writes it
    targeted: dict[int, int] = {}  # company pk → index of the item that writes it
    now = clock.now()
    for index, raw, domain in parsed:
        company_id = raw.pop("id", None)
        if company_id is not None:
            match = by_id.get(company_id)
            if match is None or not _visible(match, membership):
                bulk_error(results, index, {"id": ["No such company."]})
                continue
        else:
            match = by_domain.get(domain) if domain else None
            if match is not None and not _visible(match, membership):
                bulk_error(results, index, {"domain": ["This company exists and is assigned to another member."]})
                continue
        if match is not None and match.pk in targeted:
            bulk_error(results, index, {"id" if company_id else "domain": [
                f"Item {targeted[match.pk]} of this request names the same company."]})
            continue
        try:
            values = company_values_prepare(ctx=ctx, raw=raw, current=match, member_ids=members)
        except InvalidFields as exc:
            bulk_error(results, index, exc.errors)
            continue
        final = values.get("domain", match.domain if match is not None else "")
        holder = by_domain.get(final) if final else None
        if holder is not None and (match is None or holder.pk != match.pk):
            bulk_error(results, index, {"domain": [DOMAIN_TAKEN]})
            continue
        if final and final in claimed:
            bulk_error(results, index, {"domain": [f"Item {claimed[final]} of this request names the same company."]})
            continue
        company = match if match is not None else Company(workspace=workspace)
        item = _Item(index=index, raw=raw, company=company, created=match is None,
                     before=snapshot(company, COMPANY_AUDIT_FIELDS) if match is not None else None)
        item.changed = assign(company, values)
        if match is not None:
            targeted[match.pk] = index
            if item.changed:
                company.updated_at = now
        if final:
            claimed[final] = index
        prepared.append(item)
    created = [i for i in prepared if i.created]
    updated = [i for i in prepared if not i.created and i.changed]
    insert_all_or_each([i.company for i in created],
                       lost=lambda n: bulk_error(results, created[n].index, {"domain": [RACE_LOST_MESSAGE]}))
    update_all_or_each([i.company for i in updated], [i.changed for i in updated],
                       lost=lambda n: bulk_error(results, updated[n].index, {"domain": [RACE_LOST_MESSAGE]}))
    saved = [i for i in prepared if i.index not in results]
    _audit(workspace, actor, saved)
    for item in saved:
        results[item.index] = BulkItemResult(index=item.index, id=item.company.pk,
                                             status=bulk_saved_status(created=item.created,
                                                                      changed=bool(item.changed)))
    return [results[index] for index in range(len(items))]


def _parse(items: Sequence[Mapping[str, Any]],
           results: dict[int, BulkItemResult]) -> list[tuple[int, dict[str, Any], str]]:
    """Each well-formed item with its normalized domain (``""`` for none)."""
    parsed: list[tuple[int, dict[str, Any], str]] = []
    for index, raw in enumerate(items):
        if not isinstance(raw, Mapping):
            bulk_error(results, index, {"non_field_errors": ["Expected an object of company fields."]})
            continue
        company_id = raw.get("id")
        if company_id is not None and (isinstance(company_id, bool) or not isinstance(company_id, int)
                                       or not 0 < company_id < 2**63):
            bulk_error(results, index, {"id": ["Expected the id of a company."]})
            continue
        try:
            domain = normalize_domain(raw.get("domain")) if raw.get("domain") is not None else ""
        except ValueError as exc:
            bulk_error(results, index, {"domain": [str(exc)]})
            continue
        parsed.append((index, dict(raw), domain))
    return parsed


def _existing(workspace: Workspace,
              parsed: Sequence[tuple[int, dict[str, Any], str]]) -> tuple[dict[int, Company], dict[str, Company]]:
    """Every company the batch names by id or by domain, locked, in one query."""
    ids = {raw["id"] for _, raw, _ in parsed if raw.get("id") is not None}
    domains = {domain for _, _, domain in parsed if domain}
    if not ids and not domains:
        return {}, {}
    rows = list(Company.objects.for_workspace(workspace).select_for_update()
                .filter(Q(pk__in=ids) | Q(domain__in=domains)))
    return {c.pk: c for c in rows}, {c.domain: c for c in rows if c.domain}


def _visible(company: Company, membership: Membership | None) -> bool:
    return not selectors.sees_only_own(membership) or (membership is not None
                                                       and company.owner_id == membership.user_id)


def _audit(workspace: Workspace, actor: Any, items: Sequence[_Item]) -> None:
    entries: list[AuditEntry] = []
    for item in items:
        if item.created:
            entries.append(audit_entry_build(action="company.created", actor=actor, workspace=workspace,
                                             target=item.company, after=snapshot(item.company, COMPANY_AUDIT_FIELDS)))
        elif item.changed:
            old, new = diff(item.before or {}, snapshot(item.company, COMPANY_AUDIT_FIELDS))
            entries.append(audit_entry_build(action="company.updated", actor=actor, workspace=workspace,
                                             target=item.company, before=old, after=new))
    AuditEntry.objects.bulk_create(entries)
