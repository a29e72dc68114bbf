"""Turning one source row into the values of one deal: plain fields, then references given by name.

A deals file names things the way people see them: the pipeline and stage by name, the owner and the primary
contact by e-mail, the company by name or external id. ``clean`` (no queries, run in the reader thread) checks the
plain fields and everything it can resolve from what was loaded once per import (pipelines with their stages, the
workspace's members). ``resolve`` (one query per reference kind per batch, in the writing thread) loads the
batch's companies, contacts and the deals it will update; ``finish`` then settles each row: an unknown name is an
error of that row, never a new pipeline, stage, company or contact made up from a typo.

The rules are the deal services' rules (``kith.deals.services.deals``): a name of at most 255 characters, an amount
from 0 to ``MAX_VALUE``, an ISO 4217 currency, the owner a member of the workspace, the status following the
stage's kind, and a deal in a lost stage needs a lost reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django.db.models.functions import Lower

from kith.accounts.models import Membership
from kith.contacts.models import Company, Contact
from kith.contacts.validation import normalize_email
from kith.deals.currencies import currency_normalize
from kith.deals.models import Deal, DealStatus, Pipeline, StageKind
from kith.deals.services.deals import MAX_VALUE
from kith.imports.mapping import SKIP
from kith.imports.reading import SourceRow
from kith.imports.rows import Record

_TEXT_LIMIT = 255
# The Python names of the references a row may carry, as ``Record.values`` holds them once resolved.
REFERENCE_COLUMNS = ("pipeline_id", "stage_id", "owner_id", "company_id", "contact_id")


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class StageInfo:
    id: int
    name: str
    kind: str


@dataclass(frozen=True)
class PipelineInfo:
    id: int
    name: str
    stages: dict[str, StageInfo]  # folded name → stage
    first: StageInfo | None  # where a deal lands when no stage is given


@dataclass(frozen=True)
class ExistingDeal:
    id: int
    pipeline_id: int
    stage_id: int
    lost_reason: str


def pipelines_load(*, workspace_id: int) -> tuple[dict[str, PipelineInfo], dict[int, PipelineInfo], int | None]:
    """Every pipeline of the workspace with its stages (two queries): by folded name, by id, and the default's id."""
    by_name: dict[str, PipelineInfo] = {}
    by_id: dict[int, PipelineInfo] = {}
    default_id: int | None = None
    for pipeline in Pipeline.objects.filter(workspace_id=workspace_id).prefetch_related("stages").order_by(
            "position", "id"):
        stages = sorted(pipeline.stages.all(), key=lambda s: (s.position, s.pk))
        infos = [StageInfo(s.pk, s.name, s.kind) for s in stages]
        info = PipelineInfo(pipeline.pk, pipeline.name, {}, infos[0] if infos else None)
        for stage in infos:
            info.stages.setdefault(_fold(stage.name), stage)
        by_name.setdefault(_fold(pipeline.name), info)
        by_id[pipeline.pk] = info
        if pipeline.is_default:
            default_id = pipeline.pk
    if default_id is None and by_id:
        default_id = next(iter(by_id))  # no default marked: the first pipeline, as the board opens on it
    return by_name, by_id, default_id


def members_load(*, workspace_id: int) -> dict[str, int]:
    """E-mail (lower case) → user id of every member: a deal's owner must be one."""
    return {email.lower(): user_id for user_id, email in
            Membership.objects.filter(workspace_id=workspace_id).values_list("user_id", "user__email")}


def _amount(text: str) -> Decimal:
    cleaned = text.replace(" ", "").replace("\u00a0", "")
    if "," in cleaned and "." in cleaned:
        cleaned = cleaned.replace(",", "")  # 1,500.50: thousands separators
    try:
        amount = Decimal(cleaned).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise ValueError("Give an amount such as 1500 or 1500.50.") from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_VALUE:
        raise ValueError(f"Give an amount from 0 to {MAX_VALUE}.")
    return amount


def _date(text: str) -> dt.date:
    # Spreadsheet cells with a time arrive as 2024-05-31T00:00:00 (``reading._cell_text``); the day is what counts.
    head = text[:10] if len(text) > 10 and text[10] in "T " else text
    try:
        return dt.date.fromisoformat(head)
    except ValueError as exc:
        raise ValueError("Give a date such as 2024-05-31.") from exc


class DealRowCleaner:
    """Cleans the rows of one deals import; built once per import (two queries), then ``clean`` per row (none),
    ``resolve`` per batch (three queries) and ``finish`` per row (none)."""

    def __init__(self, *, workspace_id: int, mapping: Mapping[str, str], upsert_key: str) -> None:
        self.workspace_id = workspace_id
        self.upsert_key = upsert_key
        self.plain = [(int(column), target) for column, target in mapping.items() if target != SKIP]
        self.pipelines, self.pipelines_by_id, self.default_pipeline_id = pipelines_load(workspace_id=workspace_id)
        self.members = members_load(workspace_id=workspace_id)
        self._existing: dict[str, ExistingDeal] = {}
        self._companies: dict[str, list[int]] = {}
        self._contacts: dict[str, int] = {}

    @property
    def plain_fields(self) -> list[str]:
        return [name for _, name in self.plain]

    def clean(self, row: SourceRow) -> Record | dict[str, list[str]]:
        """The plain values of ``row`` and the references resolvable without a query, or its field errors."""
        cells = row.cells
        values: dict[str, Any] = {}
        refs: dict[str, str] = {}
        problems: dict[str, list[str]] = {}
        for index, name in self.plain:
            text = cells[index].strip()
            if not text:
                continue
            try:
                self._clean_one(name, text, values, refs)
            except ValueError as exc:
                problems.setdefault(name, []).append(str(exc))
        key = values.get(self.upsert_key, "")
        if not key and self.upsert_key not in problems:
            problems[self.upsert_key] = ["No external id: rows are matched on it."]
        if problems:
            return problems
        return Record(number=row.number, cells=cells, key=key, values=values, refs=refs)

    def _clean_one(self, name: str, text: str, values: dict[str, Any], refs: dict[str, str]) -> None:
        if "\x00" in text:
            raise ValueError("Text may not contain NUL characters.")
        if name in ("external_id", "name", "lost_reason"):
            if len(text) > _TEXT_LIMIT:
                raise ValueError(f"At most {_TEXT_LIMIT} characters.")
            values[name] = text
        elif name == "value":
            values["value"] = _amount(text)
        elif name == "currency":
            values["currency"] = currency_normalize(text)
        elif name == "expected_close_date":
            values["expected_close_date"] = _date(text)
        elif name == "pipeline":
            pipeline = self.pipelines.get(_fold(text))
            if pipeline is None:
                raise ValueError(f"No pipeline named {text[:100]!r}.")
            values["pipeline_id"] = pipeline.id
        elif name == "stage":
            refs["stage"] = text[:200]  # resolved in ``finish``: which pipeline it belongs to may be the deal's
        elif name == "owner":
            owner = self.members.get(normalize_email(text))
            if owner is None:
                raise ValueError(f"No member of this workspace has the e-mail {text[:100]!r}.")
            values["owner_id"] = owner
        elif name == "contact":
            refs["contact"] = normalize_email(text)
        elif name == "company":
            refs["company"] = text[:_TEXT_LIMIT]

    def resolve(self, records: Sequence[Record]) -> None:
        """Load what the batch's rows refer to: the deals they update, their companies and contacts (one query
        each, whatever the batch size)."""
        keys = [r.key for r in records]
        self._existing = {
            external_id: ExistingDeal(pk, pipeline_id, stage_id, lost_reason)
            for pk, external_id, pipeline_id, stage_id, lost_reason in Deal.objects.filter(
                workspace_id=self.workspace_id, external_id__in=keys).values_list(
                "pk", "external_id", "pipeline_id", "stage_id", "lost_reason")
        } if keys else {}
        companies = {r.refs["company"] for r in records if "company" in r.refs}
        self._companies = self._companies_load(companies)
        emails = {r.refs["contact"] for r in records if "contact" in r.refs}
        self._contacts = dict(Contact.objects.filter(workspace_id=self.workspace_id, email__in=emails)
                              .values_list("email", "pk")) if emails else {}

    def _companies_load(self, texts: Iterable[str]) -> dict[str, list[int]]:
        """Cell text → ids of the companies it names: by external id (exact) or, failing that, by name (case and
        surrounding spaces ignored). A name may match several companies; ``finish`` then asks for the external id."""
        wanted = set(texts)
        if not wanted:
            return {}
        # Lower() in SQLite folds ASCII letters only, so exact spellings are matched too; Python then compares
        # names case-insensitively.
        lowered = {text.lower() for text in wanted}
        rows = (Company.objects.filter(workspace_id=self.workspace_id)
                .annotate(lname=Lower("name"))
                .filter(Q(external_id__in=wanted) | Q(name__in=wanted) | Q(lname__in=lowered))
                .values_list("pk", "name", "external_id"))
        by_external: dict[str, list[int]] = {}
        by_name: dict[str, list[int]] = {}
        for pk, name, external_id in rows:
            if external_id:
                by_external.setdefault(external_id, []).append(pk)
            by_name.setdefault(name.strip().lower(), []).append(pk)
        return {text: by_external.get(text) or by_name.get(text.lower(), []) for text in wanted}

    def existing(self, key: str) -> ExistingDeal | None:
        return self._existing.get(key)

    def finish(self, record: Record, *, exists: bool) -> dict[str, list[str]]:
        """Resolve the company, contact, pipeline and stage of ``record``; its field errors, if any. Sets
        ``values["status"]`` from the stage's kind and ``values["stage_moved"]`` when the stage changes."""
        values, refs = record.values, record.refs
        problems: dict[str, list[str]] = {}
        if "company" in refs:
            found = self._companies.get(refs["company"], [])
            if len(found) == 1:
                values["company_id"] = found[0]
            elif found:
                name = refs["company"][:100]
                problems["company"] = [f"Several companies are named {name!r}; give its external id instead."]
            else:
                problems["company"] = [f"No company with the name or external id {refs['company'][:100]!r}."]
        if "contact" in refs:
            contact = self._contacts.get(refs["contact"])
            if contact is None:
                problems["contact"] = [f"No contact with the e-mail {refs['contact'][:100]!r}."]
            else:
                values["contact_id"] = contact
        current = self._existing.get(record.key) if exists else None
        if current is None and not values.get("name"):
            problems["name"] = ["A deal needs a name."]
        problems.update(self._stage_settle(record, current))
        return problems

    def _stage_settle(self, record: Record, current: ExistingDeal | None) -> dict[str, list[str]]:
        values, refs = record.values, record.refs
        pipeline_id = values.get("pipeline_id") or (current.pipeline_id if current else self.default_pipeline_id)
        pipeline = self.pipelines_by_id.get(pipeline_id) if pipeline_id else None
        if pipeline is None:
            return {"pipeline": ["This workspace has no pipeline yet; create one first."]}
        if "stage" in refs:
            stage = pipeline.stages.get(_fold(refs["stage"]))
            if stage is None:
                return {"stage": [f"Pipeline {pipeline.name!r} has no stage named {refs['stage'][:100]!r}."]}
        elif current is not None and pipeline.id == current.pipeline_id:
            return {}  # neither pipeline nor stage changes
        else:
            stage = pipeline.first
            if stage is None:
                return {"stage": [f"Pipeline {pipeline.name!r} has no stages."]}
        if current is not None and stage.id == current.stage_id:
            return {}
        status = {StageKind.WON: DealStatus.WON, StageKind.LOST: DealStatus.LOST}.get(stage.kind, DealStatus.OPEN)
        if status == DealStatus.LOST and not (values.get("lost_reason") or (current and current.lost_reason)):
            return {"lost_reason": [f"Stage {stage.name!r} is a lost stage: say why the deal was lost."]}
        values.update(pipeline_id=pipeline.id, stage_id=stage.id, status=status, stage_moved=True,
                      stage_name=stage.name)
        return {}

    def column_of(self, error_field: str) -> int | None:
        return next((i for i, name in self.plain if name == error_field), None)
