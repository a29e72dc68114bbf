"""Which columns of a file feed which fields: the targets an import of each kind offers, and the mapping guessed
from the header row (field names, common synonyms, custom field keys and labels)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kith.contacts.models import CustomFieldDefinition
from kith.imports.models import ImportKind

SKIP = "skip"
TAGS = "tags"
ATTR_PREFIX = "attr."


@dataclass(frozen=True)
class Target:
    value: str  # what the mapping stores: a field name, "attr.<key>" or "tags"
    label: str


CONTACT_FIELDS: dict[str, str] = {
    "email": "E-mail", "first_name": "First name", "last_name": "Last name", "phone": "Phone",
    "external_id": "External id", "source": "Source", "lifecycle_stage": "Lifecycle stage",
    "lead_status": "Lead status", "email_consent": "E-mail consent", "sms_consent": "SMS consent",
    "timezone": "Time zone", "locale": "Locale", "engagement_score": "Engagement score",
    "last_seen_at": "Last seen",
}
COMPANY_FIELDS: dict[str, str] = {
    "name": "Name", "domain": "Domain", "industry": "Industry", "size": "Size", "external_id": "External id",
}
# References (pipeline, stage, owner, company, contact) are given as the names people see, not ids: an export from
# another CRM or a spreadsheet has names and e-mail addresses. ``kith.imports.deal_rows`` resolves them.
DEAL_FIELDS: dict[str, str] = {
    "external_id": "External id", "name": "Name", "pipeline": "Pipeline (name)", "stage": "Stage (name)",
    "value": "Amount", "currency": "Currency", "expected_close_date": "Expected close date",
    "owner": "Owner (e-mail)", "company": "Company (name or external id)", "contact": "Primary contact (e-mail)",
    "lost_reason": "Lost reason",
}
FIELDS = {ImportKind.CONTACTS: CONTACT_FIELDS, ImportKind.COMPANIES: COMPANY_FIELDS, ImportKind.DEALS: DEAL_FIELDS}
# Which field an upsert may match on, per kind, in the order offered (the first is the default). Deals have no
# natural key (two deals may share a name), so only the id they have in the system they come from.
UPSERT_KEYS = {ImportKind.CONTACTS: ("email", "external_id"), ImportKind.COMPANIES: ("domain", "external_id"),
               ImportKind.DEALS: ("external_id",)}

# Header spellings seen in exports of other CRMs and spreadsheets, folded by ``_fold``.
_SYNONYMS: dict[str, dict[str, str]] = {
    ImportKind.CONTACTS: {
        "email": "email", "emailaddress": "email", "mail": "email", "workemail": "email", "primaryemail": "email",
        "firstname": "first_name", "givenname": "first_name", "forename": "first_name", "first": "first_name",
        "lastname": "last_name", "surname": "last_name", "familyname": "last_name", "last": "last_name",
        "phone": "phone", "phonenumber": "phone", "mobile": "phone", "mobilephone": "phone", "telephone": "phone",
        "tel": "phone", "externalid": "external_id", "extid": "external_id", "source": "source",
        "leadsource": "source", "lifecyclestage": "lifecycle_stage", "stage": "lifecycle_stage",
        "leadstatus": "lead_status", "status": "lead_status", "emailconsent": "email_consent",
        "smsconsent": "sms_consent", "timezone": "timezone", "tz": "timezone", "locale": "locale",
        "language": "locale", "engagementscore": "engagement_score", "score": "engagement_score",
        "lastseen": "last_seen_at", "lastseenat": "last_seen_at", "tags": TAGS, "tag": TAGS, "labels": TAGS,
    },
    ImportKind.COMPANIES: {
        "name": "name", "company": "name", "companyname": "name", "organization": "name",
        "organisation": "name", "domain": "domain", "website": "domain", "url": "domain", "web": "domain",
        "companydomain": "domain", "industry": "industry", "sector": "industry", "size": "size",
        "companysize": "size", "employees": "size", "headcount": "size", "externalid": "external_id",
        "extid": "external_id",
    },
    ImportKind.DEALS: {
        "externalid": "external_id", "extid": "external_id", "dealid": "external_id", "id": "external_id",
        "name": "name", "deal": "name", "dealname": "name", "title": "name", "opportunity": "name",
        "pipeline": "pipeline", "pipelinename": "pipeline", "stage": "stage", "dealstage": "stage",
        "stagename": "stage", "amount": "value", "value": "value", "dealvalue": "value", "dealamount": "value",
        "currency": "currency", "currencycode": "currency", "expectedclosedate": "expected_close_date",
        "closedate": "expected_close_date", "expectedclose": "expected_close_date", "closingdate": "expected_close_date",
        "owner": "owner", "owneremail": "owner", "dealowner": "owner", "company": "company",
        "companyname": "company", "account": "company", "organization": "company", "organisation": "company",
        "contact": "contact", "contactemail": "contact", "primarycontact": "contact", "email": "contact",
        "lostreason": "lost_reason",
    },
}


def _fold(text: str) -> str:
    """``"E-mail Address"`` → ``"emailaddress"``: case, spaces and punctuation do not tell headers apart."""
    return re.sub(r"[\W_]+", "", text.casefold())


def targets(*, kind: str, definitions: Mapping[str, CustomFieldDefinition]) -> list[Target]:
    """Everything a column of an import of ``kind`` may be mapped to, in the order the mapping page lists them."""
    found = [Target(name, label) for name, label in FIELDS[ImportKind(kind)].items()]
    if kind == ImportKind.CONTACTS:
        found.append(Target(TAGS, "Tags (comma-separated)"))
    found += [Target(f"{ATTR_PREFIX}{key}", f"{d.label} (custom field)") for key, d in sorted(definitions.items())]
    return found


def mapping_guess(
    *, kind: str, headers: Sequence[str], definitions: Mapping[str, CustomFieldDefinition]
) -> dict[str, str]:
    """Column index → target for every header that names a field; each target is taken by its first column only,
    the other columns are skipped."""
    known: dict[str, str] = {_fold(name): name for name in FIELDS[ImportKind(kind)]}
    known.update(_SYNONYMS[kind])
    for key, definition in definitions.items():
        known.setdefault(_fold(key), f"{ATTR_PREFIX}{key}")
        known.setdefault(_fold(definition.label), f"{ATTR_PREFIX}{key}")
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        target = known.get(_fold(header), SKIP)
        if target != SKIP and target in taken:
            target = SKIP
        taken.add(target)
        mapping[str(index)] = target
    return mapping


def mapping_errors(
    *, kind: str, mapping: Mapping[str, str], width: int, upsert_key: str,
    definitions: Mapping[str, CustomFieldDefinition],
) -> dict[str, list[str]]:
    """Field errors of a mapping chosen on the mapping page or sent to the API (empty when it is usable)."""
    allowed = {t.value for t in targets(kind=kind, definitions=definitions)} | {SKIP}
    errors: dict[str, list[str]] = {}
    used: dict[str, str] = {}
    for column, target in mapping.items():
        if not column.isdigit() or int(column) >= width:
            errors.setdefault("mapping", []).append(f"There is no column {column[:20]!r} in the file.")
        elif target not in allowed:
            errors.setdefault("mapping", []).append(f"Column {int(column) + 1}: unknown field {target[:80]!r}.")
        elif target != SKIP and target in used:
            errors.setdefault("mapping", []).append(f"Two columns are mapped to {target!r}.")
        used[target] = column
    if upsert_key not in UPSERT_KEYS[ImportKind(kind)]:
        errors["upsert_key"] = [f"Match on one of: {', '.join(UPSERT_KEYS[ImportKind(kind)])}."]
    elif upsert_key not in used:
        errors["upsert_key"] = [f"Map a column to {upsert_key!r}: rows are matched on it."]
    return errors
