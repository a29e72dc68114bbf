"""Forms of the import pages: the upload, and the mapping built from the file's header row."""

from __future__ import annotations

from typing import Any

from django import forms

from kith.imports.mapping import SKIP, UPSERT_KEYS, Target
from kith.imports.models import ImportJob, ImportKind

KEY_CHOICES = {"email": "E-mail address", "external_id": "External id", "domain": "Domain"}


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label="Import", choices=ImportKind.choices)
    file = forms.FileField(label="CSV or Excel file",
                           help_text="The first row must name the columns. UTF-8, Windows (cp1252) and Latin-1 "
                                     "text is recognized, as are comma, semicolon and tab separators.")


class MappingForm(forms.Form):
    """One choice per column of the file, then the match key and what to do with matches."""

    upsert_key = forms.ChoiceField(label="Match existing records by")
    update_existing = forms.TypedChoiceField(
        label="When a row matches an existing record", coerce=lambda v: v == "update",
        choices=[("update", "Update it with the row's non-blank values"), ("skip", "Leave it as it is (skip the row)")],
        widget=forms.RadioSelect)

    def __init__(self, *args: Any, job: ImportJob, targets: list[Target], **kwargs: Any) -> None:
        initial = {f"col_{column}": target for column, target in job.mapping.items()}
        initial.update(upsert_key=job.upsert_key, update_existing="update" if job.update_existing else "skip")
        super().__init__(*args, initial=initial, **kwargs)
        choices = [(SKIP, "— Do not import —"), *((t.value, t.label) for t in targets)]
        self.columns: list[tuple[str, forms.BoundField]] = []
        for index, header in enumerate(job.headers):
            name = f"col_{index}"
            self.fields[name] = forms.ChoiceField(label=header, choices=choices, required=False)
            self.columns.append((header, self[name]))
        self.fields["upsert_key"].choices = [(k, KEY_CHOICES[k]) for k in UPSERT_KEYS[ImportKind(job.kind)]]
        self.width = len(job.headers)

    def mapping(self) -> dict[str, str]:
        return {str(i): self.cleaned_data.get(f"col_{i}") or SKIP for i in range(self.width)}
