"""Reads: likely duplicate contacts within one workspace, found set-based (a few GROUP BY queries, not a loop over
contacts), and the pairs people marked as "not a duplicate".

Rules, each a reason shown to the person deciding:

* ``phone`` — the same phone number (stored normalized as E.164, so spelling does not matter);
* ``email`` — the same address once plus-tags are dropped (``dana+news@x.com`` = ``dana@x.com``) and, on Gmail,
  dots too (``d.lee@gmail.com`` = ``dlee@gmail.com``): the address is unique per workspace, so only these
  variants can repeat;
* ``name_company`` — the same first and last name (ignoring case) at the same company;
* ``similar_name`` (PostgreSQL) — trigram-similar full names at the same company or with the same e-mail domain
  (a free-mail domain such as gmail.com says nothing, so it does not count).

Both contacts of a pair must be visible to the caller (``kith.contacts.selectors.contact_list``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.db.models import Case, CharField, Count, F, Q, QuerySet, Value, When
from django.db.models.functions import Concat, Left, Lower, Replace, StrIndex, Substr

from kith.accounts.models import Membership, Workspace
from kith.contacts.models import Contact, DuplicateDismissal
from kith.contacts.selectors import contact_list, sees_only_own

# The list of free-mail providers lives with lead conversion, which also ignores those domains.
from kith.deals.services.conversion import freemail_domains

# Providers that ignore dots in the local part, so "d.lee" and "dlee" are one mailbox.
DOTLESS_DOMAINS = ("gmail.com", "googlemail.com")
# Names at least this similar (pg_trgm similarity, 0–1) count as "similar": "Jon Smith"/"John Smith" ≈ 0.6,
# "Dana Lee"/"Dan Brown" ≈ 0.2.
NAME_SIMILARITY = 0.5
# A duplicates page is read by a person; past a few hundred pairs they merge some and reload.
MAX_PAIRS = 200

REASON_LABELS = {
    "phone": "Same phone number",
    "email": "Same e-mail address (ignoring dots or +tags)",
    "name_company": "Same name at the same company",
    "similar_name": "Similar name, same company or e-mail domain",
}


@dataclass
class DuplicatePair:
    first: Contact  # the lower id: usually the older record
    second: Contact
    reasons: list[str] = field(default_factory=list)

    @property
    def reason_labels(self) -> list[str]:
        return [REASON_LABELS[r] for r in self.reasons]


def canonical_email(email: str) -> str:
    """Python twin of ``_canonical_email_expression``, for one contact's own address."""
    local, _, domain = email.lower().partition("@")
    if not domain:
        return ""
    if "+" in local[1:]:
        local = local[: local.index("+", 1)]
    if domain in DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _canonical_email_expression() -> Any:
    at = StrIndex("email", Value("@"))
    local = Left("email", at - 1)
    plus = StrIndex(local, Value("+"))
    base = Case(When(Q(plus_at__gt=1), then=Left(local, F("plus_at") - 1)), default=local, output_field=CharField())
    domain = Substr("email", at + 1)
    return plus, Case(
        When(Q(email_domain__in=DOTLESS_DOMAINS), then=Concat(Replace(base, Value("."), Value("")), Value("@gmail.com"))),
        default=Concat(base, Value("@"), F("email_domain")),
        output_field=CharField(),
    ), domain


def _with_canonical_email(queryset: QuerySet[Contact]) -> QuerySet[Contact]:
    plus, canonical, domain = _canonical_email_expression()
    return queryset.exclude(email="").alias(plus_at=plus, email_domain=domain).annotate(canonical_email=canonical)


def _groups(queryset: QuerySet[Contact], keys: list[str]) -> dict[tuple[Any, ...], list[int]]:
    """Contact ids sharing the values of ``keys`` (already aliased), for keys held by more than one contact: one
    GROUP BY for the keys, one read of their members."""
    repeated = list(queryset.order_by().values(*keys).annotate(n=Count("id")).filter(n__gt=1)
                    .values_list(*keys)[: MAX_PAIRS * 2])
    if not repeated:
        return {}
    condition = Q()
    for values in repeated:
        condition |= Q(**dict(zip(keys, values, strict=True)))
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row in queryset.filter(condition).order_by("pk").values_list("pk", *keys):
        groups[tuple(row[1:])].append(row[0])
    return groups


def _pairs_from_groups(groups: dict[tuple[Any, ...], list[int]], reason: str,
                       found: dict[tuple[int, int], list[str]]) -> None:
    for ids in groups.values():
        for i, low in enumerate(ids):
            for high in ids[i + 1:]:
                found.setdefault((low, high), []).append(reason)


def _similar_names(*, workspace: Workspace, membership: Membership | None, contact: Contact | None,
                   using: str) -> list[tuple[int, int]]:
    """PostgreSQL only: pairs with trigram-similar full names at the same company or e-mail domain. One self-join;
    every value is a bound parameter."""
    name = "lower(%s.first_name || ' ' || %s.last_name)"
    sql = [
        "SELECT a.id, b.id FROM contacts_contact a JOIN contacts_contact b",
        " ON b.workspace_id = a.workspace_id AND b.id > a.id AND (b.company_id = a.company_id OR (a.email <> ''",
        " AND split_part(b.email, '@', 2) = split_part(a.email, '@', 2) AND NOT split_part(a.email, '@', 2) = ANY(%s)))",
        " WHERE a.workspace_id = %s AND trim(a.first_name || a.last_name) <> '' AND trim(b.first_name || b.last_name) <> ''",
        f" AND similarity({name % ('a', 'a')}, {name % ('b', 'b')}) >= %s",
    ]
    params: list[Any] = [list(freemail_domains()), workspace.pk, NAME_SIMILARITY]
    if sees_only_own(membership):
        assert membership is not None
        sql.append(" AND a.owner_id = %s AND b.owner_id = %s")
        params += [membership.user_id, membership.user_id]
    if contact is not None:
        sql.append(" AND (a.id = %s OR b.id = %s)")
        params += [contact.pk, contact.pk]
    sql.append(" ORDER BY a.id DESC, b.id DESC LIMIT %s")
    params.append(MAX_PAIRS)
    with connections[using].cursor() as cursor:
        cursor.execute("".join(sql), params)
        return [(int(a), int(b)) for a, b in cursor.fetchall()]


def duplicate_pairs(*, workspace: Workspace, membership: Membership | None, contact: Contact | None = None,
                    limit: int = MAX_PAIRS) -> list[DuplicatePair]:
    """Likely duplicate pairs among the contacts ``membership`` may see (only pairs that include ``contact`` when
    given), strongest first (most reasons, then newest), without the pairs dismissed as "not a duplicate"."""
    visible = contact_list(workspace=workspace, membership=membership).order_by()
    found: dict[tuple[int, int], list[str]] = {}

    phones = visible.exclude(phone="")
    if contact is not None:
        phones = phones.filter(phone=contact.phone) if contact.phone else phones.none()
    _pairs_from_groups(_groups(phones, ["phone"]), "phone", found)

    emails = _with_canonical_email(visible)
    if contact is not None:
        key = canonical_email(contact.email) if contact.email else ""
        emails = emails.filter(canonical_email=key) if key else emails.none()
    _pairs_from_groups(_groups(emails, ["canonical_email"]), "email", found)

    names = (visible.exclude(first_name="").exclude(last_name="").filter(company__isnull=False)
             .annotate(first_key=Lower("first_name"), last_key=Lower("last_name")))
    if contact is not None:
        names = names.filter(first_key=contact.first_name.lower(), last_key=contact.last_name.lower(),
                             company_id=contact.company_id)
    _pairs_from_groups(_groups(names, ["first_key", "last_key", "company_id"]), "name_company", found)

    if connections[visible.db].vendor == "postgresql":
        for pair in _similar_names(workspace=workspace, membership=membership, contact=contact, using=visible.db):
            reasons = found.setdefault(pair, [])
            if "name_company" not in reasons:
                reasons.append("similar_name")

    if contact is not None:
        found = {pair: reasons for pair, reasons in found.items() if contact.pk in pair}
    found = _without_dismissed(workspace, found)
    ranked = sorted(found.items(), key=lambda item: (-len(item[1]), -item[0][1], -item[0][0]))[:limit]
    ids = {pk for pair, _ in ranked for pk in pair}
    contacts = {c.pk: c for c in visible.filter(pk__in=ids).select_related("company", "owner")}
    return [DuplicatePair(first=contacts[a], second=contacts[b], reasons=reasons)
            for (a, b), reasons in ranked if a in contacts and b in contacts]


def _without_dismissed(workspace: Workspace,
                       found: dict[tuple[int, int], list[str]]) -> dict[tuple[int, int], list[str]]:
    if not found:
        return found
    ids = {pk for pair in found for pk in pair}
    dismissed = set(DuplicateDismissal.objects.for_workspace(workspace)
                    .filter(contact_low_id__in=ids, contact_high_id__in=ids)
                    .values_list("contact_low_id", "contact_high_id"))
    return {pair: reasons for pair, reasons in found.items() if pair not in dismissed}

