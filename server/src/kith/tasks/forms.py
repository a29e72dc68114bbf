"""Forms of the task pages. They check shape and choices; ``kith.tasks.services`` owns the rules (membership of the
assignee, visibility of the linked records), and its field errors are shown on these fields."""

from __future__ import annotations

from typing import Any

from django import forms

from kith.accounts.models import Workspace
from kith.tasks import selectors

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _datetime(label: str, *, required: bool) -> forms.DateTimeField:
    # A native picker; the view interprets the value in the workspace's time zone.
    return forms.DateTimeField(label=label, required=required, input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"],
                               widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT))


class TaskForm(forms.Form):
    title = forms.CharField(max_length=255)
    due_at = _datetime("Due", required=True)
    assignee = forms.TypedChoiceField(choices=(), coerce=int, label="Assignee")
    reminder_at = _datetime("Remind me at", required=False)
    email_reminder = forms.BooleanField(label="Also e-mail me the reminder", required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                            help_text="Basic formatting (bold, lists, links) is kept.")
    contact = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2**63 - 1)
    company = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2**63 - 1)
    deal = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1, max_value=2**63 - 1)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = selectors.assignee_choices(workspace=workspace)

    def service_data(self, *, subjects: bool) -> dict[str, Any]:
        """The cleaned values as the services take them; subjects only when the form sets them (creating). When
        editing, only the fields the person changed: the picker has minute precision, so resending an unchanged
        reminder would look like a new one and re-arm a reminder that was already sent."""
        data = dict(self.cleaned_data)
        if not subjects:
            changed = set(self.changed_data)
            data = {name: value for name, value in data.items()
                    if name in changed and name not in ("contact", "company", "deal")}
        return data
