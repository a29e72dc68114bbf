"""Forms of the sequence pages: shape only (choices from the workspace); the services own the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from kith.drips import services
from kith.messaging.models import Template
from kith.preferences.models import Topic
from kith.segments.models import Segment


def _choices(queryset: Any, empty: str) -> list[tuple[str, str]]:
    return [("", empty), *((str(obj.pk), str(obj)) for obj in queryset)]


def _id(value: str) -> int | None:
    return int(value) if value else None


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=services.MAX_NAME_LENGTH)
    segment = forms.TypedChoiceField(required=False, coerce=_id, empty_value=None, label="Audience segment",
                                     help_text="Contacts who enter this segment enroll.")
    enroll_event = forms.CharField(required=False, max_length=services.MAX_EVENT_NAME, label="Enrolling event",
                                   help_text="Contacts who do this event enroll, such as “Signed Up” (with a segment: "
                                             "only its members).")
    send_time = forms.RegexField(regex=r"^([01]\d|2[0-3]):[0-5]\d$", max_length=5, label="Send time",
                                 widget=forms.TimeInput(attrs={"type": "time"}),
                                 help_text="Local time of day in each recipient's own timezone.",
                                 error_messages={"invalid": "Give a time of day as HH:MM."})
    exit_events = forms.CharField(required=False, max_length=2000, label="Exit events",
                                  help_text="Event names that take a contact out, separated by commas.")
    goal_segment = forms.TypedChoiceField(required=False, coerce=_id, empty_value=None, label="Goal segment",
                                          help_text="Contacts who enter it have reached the goal and leave.")
    topic = forms.TypedChoiceField(required=False, coerce=_id, empty_value=None, label="Topic",
                                   help_text="Contacts who opted out of this topic get nothing.")

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        segments = Segment.objects.for_workspace(workspace).order_by("name")
        self.fields["segment"].choices = _choices(segments, "No segment")
        self.fields["goal_segment"].choices = _choices(segments, "No goal")
        self.fields["topic"].choices = _choices(Topic.objects.for_workspace(workspace).filter(archived_at__isnull=True),
                                                "No topic")

    def clean_exit_events(self) -> list[str]:
        return [name.strip() for name in self.cleaned_data["exit_events"].split(",") if name.strip()]


class StepForm(forms.Form):
    template = forms.TypedChoiceField(coerce=int, label="Template")
    day_offset = forms.IntegerField(min_value=0, max_value=services.MAX_DAY_OFFSET, label="Day",
                                    help_text="Days after day 0 (the first send slot after enrolling).")

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        templates = Template.objects.for_workspace(workspace).filter(current_version__isnull=False).order_by("name")
        self.fields["template"].choices = [(str(t.pk), t.name) for t in templates]
