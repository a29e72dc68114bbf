"""Writes of imports: upload (store and sniff the file, guess the mapping), configure, start, cancel, resume.

The work itself — reading, validating and writing the rows in batches — is ``kith.imports.processing.import_run``,
run by the background job ``import_run_task``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.db import transaction

from kith.accounts.models import ApiKey, Membership, User, Workspace
from kith.contacts import selectors as contact_selectors
from kith.contacts.errors import InvalidFields
from kith.core.audit import audit_record
from kith.core.errors import Conflict, KithError, PermissionDenied
from kith.core.jobs import enqueue_on_commit
from kith.imports import storage
from kith.imports.mapping import UPSERT_KEYS, mapping_errors, mapping_guess
from kith.imports.models import ImportFormat, ImportJob, ImportKind, ImportStatus
from kith.imports.permissions import can_import
from kith.imports.reading import ImportFileError, sniff
from kith.imports.tasks import import_run_task

_FORMATS = {".csv": ImportFormat.CSV, ".txt": ImportFormat.CSV, ".tsv": ImportFormat.CSV,
            ".xlsx": ImportFormat.XLSX}
OBJECT_TYPES = {ImportKind.CONTACTS: "contact", ImportKind.COMPANIES: "company"}


class UploadTooLarge(KithError):
    status_code = 413
    code = "too_large"


def definitions_for(*, workspace: Workspace, kind: str) -> dict[str, Any]:
    """The custom field definitions columns of an import of ``kind`` may map to (deals have none)."""
    if kind not in OBJECT_TYPES:
        return {}
    return contact_selectors.custom_field_definitions_by_key(workspace=workspace, object_type=OBJECT_TYPES[kind])


def import_create(
    *,
    workspace: Workspace,
    actor: Any,
    membership: Membership | None,
    kind: str,
    file_name: str,
    size: int,
    chunks: Iterable[bytes],
) -> ImportJob:
    """Store an uploaded file and sniff it: a draft import with its headers and a guessed mapping.

    ``membership`` is ``None`` for API keys (their scope was checked by the caller). Raises ``InvalidFields``,
    ``UploadTooLarge``, ``ImportFileError`` or ``PermissionDenied``.
    """
    if kind not in ImportKind.values:
        raise InvalidFields({"kind": [f"Import one of: {', '.join(ImportKind.values)}."]})
    if membership is not None and not can_import(membership, kind):
        raise PermissionDenied("Your role cannot import records of this kind.")
    limit = settings.KITH_IMPORT_MAX_BYTES
    if size > limit:
        raise UploadTooLarge(f"The file is larger than the limit of {limit // (1024 * 1024):,} MB.", field="file")
    suffix = PurePath(file_name).suffix.lower()
    file_format = _FORMATS.get(suffix)
    if file_format is None:
        raise InvalidFields({"file": ["Upload a .csv or .xlsx file."]})
    relative = storage.new_path(workspace_id=workspace.pk, suffix=suffix)
    path = storage.absolute(relative)
    written = 0
    with path.open("wb") as handle:
        for chunk in chunks:
            written += len(chunk)
            if written > limit:  # the declared size may lie
                break
            handle.write(chunk)
    try:
        if written > limit:
            raise UploadTooLarge(f"The file is larger than the limit of {limit // (1024 * 1024):,} MB.",
                                 field="file")
        sniffed = sniff(path, file_format=file_format)
    except (ImportFileError, UploadTooLarge):
        path.unlink(missing_ok=True)
        raise
    definitions = definitions_for(workspace=workspace, kind=kind)
    mapping = mapping_guess(kind=kind, headers=sniffed.headers, definitions=definitions)
    mapped = set(mapping.values())
    upsert_key = next((key for key in UPSERT_KEYS[ImportKind(kind)] if key in mapped), UPSERT_KEYS[kind][0])
    with transaction.atomic():
        job = ImportJob.objects.create(
            workspace=workspace, created_by=_user_of(actor), kind=kind,
            file_path=relative, file_name=PurePath(file_name).name[:255] or "upload", file_size=written,
            format=file_format, encoding=sniffed.encoding, delimiter=sniffed.delimiter,
            quotechar=sniffed.quotechar, headers=list(sniffed.headers), mapping=mapping, upsert_key=upsert_key,
        )
        audit_record(action="import.created", actor=actor, workspace=workspace, target=job,
                     after={"kind": kind, "file_name": job.file_name, "file_size": written})
    return job


def _user_of(actor: Any) -> User | None:
    """The person behind ``actor``: the user, or the creator of the API key the request came with."""
    if isinstance(actor, User):
        return actor
    return actor.created_by if isinstance(actor, ApiKey) else None


def _locked(job: ImportJob) -> ImportJob:
    return ImportJob.objects.select_for_update().get(pk=job.pk)


@transaction.atomic
def import_configure(
    *, job: ImportJob, actor: Any, mapping: Mapping[str, str], upsert_key: str, update_existing: bool
) -> ImportJob:
    """Set the mapping and options of a draft import. Raises ``InvalidFields`` or ``Conflict``."""
    job = _locked(job)
    if job.status != ImportStatus.DRAFT:
        raise Conflict("This import has already started; its mapping can no longer change.")
    errors = mapping_errors(kind=job.kind, mapping=mapping, width=len(job.headers), upsert_key=upsert_key,
                            definitions=definitions_for(workspace=job.workspace, kind=job.kind))
    if errors:
        raise InvalidFields(errors)
    job.mapping = {column: mapping.get(column, "skip") for column in map(str, range(len(job.headers)))}
    job.upsert_key, job.update_existing = upsert_key, update_existing
    job.save(update_fields=["mapping", "upsert_key", "update_existing", "updated_at"])
    return job


@transaction.atomic
def import_start(*, job: ImportJob, actor: Any) -> ImportJob:
    """Queue a configured draft import; the background job does the rest. Raises ``Conflict``/``InvalidFields``."""
    job = _locked(job)
    if job.status != ImportStatus.DRAFT:
        raise Conflict("This import has already started.")
    errors = mapping_errors(kind=job.kind, mapping=job.mapping, width=len(job.headers), upsert_key=job.upsert_key,
                            definitions=definitions_for(workspace=job.workspace, kind=job.kind))
    if errors:
        raise InvalidFields(errors)
    job.status = ImportStatus.QUEUED
    job.save(update_fields=["status", "updated_at"])
    audit_record(action="import.started", actor=actor, workspace=job.workspace, target=job,
                 after={"mapping": job.mapping, "upsert_key": job.upsert_key,
                        "update_existing": job.update_existing})
    enqueue_on_commit(import_run_task, import_id=job.pk)
    return job


@transaction.atomic
def import_resume(*, job: ImportJob, actor: Any) -> ImportJob:
    """Run a failed import again from its checkpoint: rows already committed are not read again."""
    job = _locked(job)
    if job.status != ImportStatus.FAILED:
        raise Conflict("Only a failed import can be resumed.")
    job.status, job.failure_message = ImportStatus.QUEUED, ""
    job.save(update_fields=["status", "failure_message", "updated_at"])
    audit_record(action="import.resumed", actor=actor, workspace=job.workspace, target=job,
                 after={"checkpoint": job.checkpoint})
    enqueue_on_commit(import_run_task, import_id=job.pk)
    return job


@transaction.atomic
def import_cancel(*, job: ImportJob, actor: Any) -> ImportJob:
    """Stop an import. Batches already committed stay; a running batch is rolled back (see ``import_run``)."""
    job = _locked(job)
    if job.status in (ImportStatus.DONE, ImportStatus.CANCELLED):
        raise Conflict("This import has already ended.")
    job.status = ImportStatus.CANCELLED
    job.save(update_fields=["status", "updated_at"])
    audit_record(action="import.cancelled", actor=actor, workspace=job.workspace, target=job,
                 after={"checkpoint": job.checkpoint})
    return job
