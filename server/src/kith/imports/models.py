"""An import of a CSV or XLSX file into contacts, companies or deals: its file, mapping, progress and outcome.

The row is the truth of a running import: ``checkpoint`` (data rows committed) and the counts are written in the
same transaction as each batch of records, so a worker that dies mid-import resumes after the last committed batch
and never writes a row twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from kith.core.models import WorkspaceOwnedModel


class ImportKind(models.TextChoices):
    CONTACTS = "contacts", "Contacts"
    COMPANIES = "companies", "Companies"
    DEALS = "deals", "Deals"


class ImportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = frozenset({ImportStatus.QUEUED, ImportStatus.RUNNING})


class ImportJob(WorkspaceOwnedModel):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=ImportKind.choices)
    # Path relative to KITH_DATA_DIR, so a moved data directory keeps working.
    file_path = models.CharField(max_length=500)
    file_name = models.CharField(max_length=255)
    file_size = models.BigIntegerField(default=0)
    format = models.CharField(max_length=4, choices=ImportFormat.choices)
    # What sniffing found: the text encoding and CSV dialect (delimiter, quote character); empty for XLSX.
    encoding = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, blank=True)
    quotechar = models.CharField(max_length=1, blank=True)
    headers = models.JSONField(default=list)
    # Column index (as a string, JSON keys are strings) → target: a field name, "attr.<key>", "tags" or "skip".
    mapping = models.JSONField(default=dict, blank=True)
    upsert_key = models.CharField(max_length=20, blank=True)
    # False: rows matching an existing record are skipped instead of updating it.
    update_existing = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    total_rows = models.IntegerField(default=0)  # an estimate from the line count until the import is done
    processed_rows = models.IntegerField(default=0)
    created_count = models.IntegerField(default=0)
    updated_count = models.IntegerField(default=0)
    skipped_count = models.IntegerField(default=0)
    failed_count = models.IntegerField(default=0)
    # Data rows fully handled by committed batches, and the size the error report had then: a resumed run skips
    # that many rows and cuts the report back to that length, so neither rows nor error lines repeat.
    checkpoint = models.IntegerField(default=0)
    error_report_path = models.CharField(max_length=500, blank=True)
    error_report_size = models.BigIntegerField(default=0)
    failure_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The import history page: one workspace's imports, newest first.
            models.Index(fields=["workspace", "-id"], name="import_ws_id_idx"),
        ]

    def __str__(self) -> str:
        return f"import of {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if self.status == ImportStatus.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(100 * self.processed_rows / self.total_rows))

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
