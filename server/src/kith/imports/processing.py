"""Running an import: read the file in batches, validate each row, write each batch set-based, commit progress.

Every batch commits its records together with the import's ``checkpoint`` and counts, so the row in ``ImportJob``
is always true: a worker killed mid-batch leaves nothing of that batch, and the next run (the job runtime's
retry, or "Resume") starts after the last committed batch. The error report is cut back to the size recorded
with the checkpoint, so its lines never repeat either.

Per-record timeline activities and audit rows are not written for imports: a million "contact created" entries
would bury the timeline and the audit log. The import itself is audited (created, started, completed/failed).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import IO, Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from kith.contacts import selectors as contact_selectors
from kith.contacts.models import Tag
from kith.contacts.services import tags_get_or_create
from kith.core import clock
from kith.core.audit import audit_record
from kith.core.jobs import JobLeaseLost, job_lease_extend
from kith.imports import storage
from kith.imports.deal_rows import DealRowCleaner
from kith.imports.deal_writers import deal_batch_write
from kith.imports.models import ImportJob, ImportKind, ImportStatus
from kith.imports.reading import Sniffed, SourceRow, line_estimate, rows
from kith.imports.rows import KEY_LABELS, Record, RowCleaner, errors_text
from kith.imports.selectors import existing_keys
from kith.imports.writers import BatchPlan, BatchResult, batch_write, stage_values

logger = logging.getLogger("kith.imports")
T = TypeVar("T")
Cleaner = RowCleaner | DealRowCleaner

# Rows per transaction: large enough that per-batch costs (a lookup, the staging table, the commit) vanish, small
# enough that a crash loses little work and memory stays flat (tens of MB per batch, under 250 MB at peak on the benchmark).
BATCH_ROWS = 10000
RACE_MESSAGE = "Another record already has one of these unique values (e-mail, domain or external id)."


class ImportCancelled(Exception):
    """The import was cancelled while a batch was being written; the batch is rolled back."""


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failures: list[tuple[SourceRow, str]] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)  # valid so far; after _batch_prepare, those to write
    existing: set[str] = field(default_factory=set)  # keys of the batch that already exist


def import_run(*, import_id: int) -> None:
    """Run (or resume) import ``import_id``. Idempotent: a finished or cancelled import is left alone, and a
    resumed one skips the rows its committed batches handled."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("workspace").get(pk=import_id)
        if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING, ImportStatus.FAILED):
            return
        job.status, job.failure_message = ImportStatus.RUNNING, ""
        job.started_at = job.started_at or clock.now()
        if not job.total_rows:
            job.total_rows = line_estimate(storage.absolute(job.file_path), file_format=job.format)
        if not job.error_report_path:
            job.error_report_path = storage.new_path(workspace_id=job.workspace_id, suffix=".csv")
        job.save(update_fields=["status", "failure_message", "started_at", "total_rows", "error_report_path",
                                "updated_at"])
    try:
        _run(job)
    except ImportCancelled:
        return
    except JobLeaseLost:
        raise  # another worker owns the import now and carries on from the checkpoint; nothing failed
    except Exception as exc:
        ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING).update(
            status=ImportStatus.FAILED, failure_message=f"{type(exc).__name__}: {exc}"[:2000], updated_at=clock.now())
        audit_record(action="import.failed", actor=None, workspace=job.workspace, target=job,
                     after={"checkpoint": job.checkpoint, "error": type(exc).__name__})
        raise  # recorded on the job row too, and retried from the checkpoint by the job runtime


def cleaner_for(job: ImportJob) -> Cleaner:
    """The row cleaner of ``job``'s kind, loaded with what it needs from the workspace (a few queries, once)."""
    workspace = job.workspace
    if job.kind == ImportKind.DEALS:
        return DealRowCleaner(workspace_id=workspace.pk, mapping=job.mapping, upsert_key=job.upsert_key)
    return RowCleaner(
        kind=job.kind, mapping=job.mapping, upsert_key=job.upsert_key,
        definitions=contact_selectors.custom_field_definitions_by_key(
            workspace=workspace, object_type="contact" if job.kind == ImportKind.CONTACTS else "company"),
        phone_region=contact_selectors.contact_settings_get(workspace=workspace).default_phone_region,
    )


def _write(*, plan: BatchPlan, workspace_id: int, records: Sequence[Record], existing: set[str],
           now: dt.datetime) -> BatchResult:
    if plan.kind == ImportKind.DEALS:
        return deal_batch_write(workspace_id=workspace_id, records=records, existing=existing,
                                update_existing=plan.update_existing, now=now, actor_id=plan.actor_id)
    return batch_write(plan=plan, workspace_id=workspace_id, records=records, existing=existing, now=now)


def _run(job: ImportJob) -> None:
    cleaner = cleaner_for(job)
    plan = BatchPlan(kind=job.kind, key=job.upsert_key, fields=tuple(dict.fromkeys(cleaner.plain_fields)),
                     update_existing=job.update_existing, actor_id=job.created_by_id)
    sniffed = Sniffed(format=job.format, encoding=job.encoding, delimiter=job.delimiter or ",",
                      quotechar=job.quotechar or '"', headers=tuple(job.headers))
    report_path = storage.absolute(job.error_report_path)
    with _error_report(report_path, size=job.error_report_size, headers=job.headers) as report:
        source = rows(storage.absolute(job.file_path), sniffed, skip=job.checkpoint)
        stage = None
        if job.kind != ImportKind.DEALS:
            postgres = connection.vendor == "postgresql"

            def stage(record: Record) -> None:
                record.staged = stage_values(plan, record, postgres=postgres)

        cleaned = _cleaned_batches(source, cleaner, label=KEY_LABELS[job.upsert_key], stage=stage)
        for batch, outcome in prefetched(cleaned):
            _batch_prepare(job, cleaner, outcome)
            _batch_commit(job, plan, outcome, batch, report=report)
            job_lease_extend()
    _finish(job)


def prefetched(items: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """``items``, produced by a background thread up to ``depth`` ahead.

    Reading and cleaning rows is pure Python; writing a batch is mostly waiting for the database, during which
    psycopg releases the GIL. Cleaning the next batch meanwhile overlaps the two (the producer touches no
    database connection). An exception in the producer is raised here, in the consumer.
    """
    handoff: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((True, item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((False, None))
        except BaseException as exc:  # noqa: BLE001  (handed to the consumer, which re-raises it)
            handoff.put((False, exc))

    worker = threading.Thread(target=produce, name="kith-import-reader", daemon=True)
    worker.start()
    try:
        while True:
            more, item = handoff.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


@contextmanager
def _error_report(path: Path, *, size: int, headers: Sequence[str]) -> Iterator[IO[str]]:
    """The error report, opened for appending after the last committed batch's lines (later ones are cut off)."""
    with path.open("a+", encoding="utf-8", newline="") as handle:
        handle.truncate(size)
        handle.seek(size)
        if size == 0:
            csv.writer(handle).writerow(["row", "error", *headers])
        yield handle


def _cleaned_batches(
    source: Iterator[SourceRow], cleaner: Cleaner, *, label: str, stage: Callable[[Record], None] | None = None,
) -> Iterator[tuple[list[SourceRow], BatchOutcome]]:
    """Batches of rows, each cleaned into records and failures, each record's staging row built by ``stage``
    (no database access: runs in ``prefetched``'s thread, so this per-row work overlaps the writes)."""
    seen: set[int] = set()  # hashes of the keys met in this run: a repeated key is an error, not an update
    while batch := list(islice(source, BATCH_ROWS)):
        outcome = BatchOutcome()
        for row in batch:
            if row.error:
                outcome.failures.append((row, row.error))
                continue
            result = cleaner.clean(row)
            if not isinstance(result, Record):
                outcome.failures.append((row, errors_text(result)))
                continue
            digest = hash(result.key)
            if digest in seen:
                outcome.failures.append((row, f"An earlier row of this file has the same {label}."))
                continue
            seen.add(digest)
            if stage is not None:
                stage(result)
            outcome.records.append(result)
        yield batch, outcome


def _batch_prepare(job: ImportJob, cleaner: Cleaner, outcome: BatchOutcome) -> None:
    """Look up which records exist, finish validating them, and sort out the ones to skip."""
    records = outcome.records
    existing = existing_keys(workspace_id=job.workspace_id, kind=job.kind, key=job.upsert_key,
                             values=[r.key for r in records])
    if isinstance(cleaner, DealRowCleaner):
        cleaner.resolve(records)
    ready: list[Record] = []
    for record in records:
        exists = record.key in existing
        if exists and not job.update_existing:
            outcome.skipped += 1
            continue
        problems = cleaner.finish(record, exists=exists)
        if problems:
            outcome.failures.append((SourceRow(record.number, record.cells), errors_text(problems)))
            continue
        ready.append(record)
    outcome.created = sum(1 for r in ready if r.key not in existing)
    outcome.updated = len(ready) - outcome.created
    outcome.records, outcome.existing = ready, existing


def _batch_commit(
    job: ImportJob, plan: BatchPlan, outcome: BatchOutcome, batch: Sequence[SourceRow], *, report: IO[str]
) -> None:
    """Write a prepared batch, its error lines and the new checkpoint and counts, all or nothing."""
    ready, existing = outcome.records, outcome.existing
    now = clock.now()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Safe here: the checkpoint commits with the batch, so a crash that loses the last commits only means
            # those batches run again from the older checkpoint. It spares every batch a WAL flush wait.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit = off")
        tag_names: dict[str, str] = {}
        for record in ready:
            if record.tags:
                # The first spelling in the file names a new tag; keys were folded in the reader thread.
                for key, name in zip(record.tag_keys or [Tag.key_for(n) for n in record.tags], record.tags,
                                     strict=True):
                    if key not in tag_names:
                        tag_names[key] = name
        if tag_names:
            tags_get_or_create(workspace=job.workspace, names=list(tag_names.values()))
        try:
            with transaction.atomic():
                result = _write(plan=plan, workspace_id=job.workspace_id, records=ready, existing=existing,
                                now=now)
            outcome.skipped += outcome.created - result.created  # created meanwhile by someone else: left alone
            outcome.created, outcome.updated = result.created, result.updated
        except IntegrityError:
            _write_one_by_one(job, plan, ready, existing, outcome, now=now)
        writer = csv.writer(report)
        for row, message in outcome.failures:
            writer.writerow([row.number, message, *row.cells])
        report.flush()
        failed = len(outcome.failures)
        done = batch[-1].number - 1  # data rows up to and including this batch's last (blank rows included)
        # Conditioned on the checkpoint this run started the batch from, too: should a second run of the same
        # import ever overlap this one, only one of them can commit each stretch of rows.
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportStatus.RUNNING, checkpoint=job.checkpoint).update(
            checkpoint=done, processed_rows=done, created_count=F("created_count") + outcome.created,
            updated_count=F("updated_count") + outcome.updated, skipped_count=F("skipped_count") + outcome.skipped,
            failed_count=F("failed_count") + failed, error_report_size=report.tell(), updated_at=clock.now())
        if not updated:
            raise ImportCancelled  # cancelled (or taken over): rolls this batch back with the transaction
    job.checkpoint = done


def _write_one_by_one(
    job: ImportJob, plan: BatchPlan, ready: list[Record], existing: set[str], outcome: BatchOutcome, *,
    now: dt.datetime,
) -> None:
    """A batch hit another unique value (say an external id some other record has): write each record alone to
    find which; the others still import. Rare, so one savepoint per row is fine here."""
    outcome.created = outcome.updated = 0
    for record in ready:
        try:
            with transaction.atomic():
                result = _write(plan=plan, workspace_id=job.workspace_id, records=[record], existing=existing,
                                now=now)
        except IntegrityError:
            outcome.failures.append((SourceRow(record.number, record.cells), RACE_MESSAGE))
            continue
        outcome.created += result.created
        outcome.updated += result.updated


def _finish(job: ImportJob) -> None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportStatus.RUNNING:
            return
        job.status, job.finished_at = ImportStatus.DONE, clock.now()
        job.total_rows = job.processed_rows = job.checkpoint
        job.save(update_fields=["status", "finished_at", "total_rows", "processed_rows", "updated_at"])
        audit_record(action="import.completed", actor=job.created_by, workspace=job.workspace, target=job,
                     after={"created": job.created_count, "updated": job.updated_count,
                            "skipped": job.skipped_count, "failed": job.failed_count})
    logger.info("import %s done: %s created, %s updated, %s skipped, %s failed", job.pk, job.created_count,
                job.updated_count, job.skipped_count, job.failed_count)

