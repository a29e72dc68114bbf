from __future__ import annotations

from typing import Any

from django import forms

from kith.campaigns.models import AbMetric, Campaign, ScheduleKind
from kith.campaigns.services import MAX_NAME_LENGTH, MAX_THROTTLE
from kith.messaging.models import Channel, Template
from kith.preferences.selectors import topic_list
from kith.segments.selectors import segment_list


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH)
    template = forms.ModelChoiceField(queryset=Template.objects.none(), help_text="Its current version is sent.")
    segments = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple,  # type: ignore[arg-type]
                                              help_text="Contacts in any of these.")
    exclusion_segments = forms.ModelMultipleChoiceField(queryset=None, required=False,  # type: ignore[arg-type]
                                                        widget=forms.CheckboxSelectMultiple,
                                                        help_text="…and in none of these.")
    topic = forms.ModelChoiceField(queryset=None, required=False,  # type: ignore[arg-type]
                                   help_text="Contacts who opted out of this topic are left out.")
    from_name = forms.CharField(max_length=200, required=False, help_text="Blank: the template's sender.")
    from_email = forms.EmailField(required=False)
    reply_to = forms.EmailField(required=False)
    throttle_per_minute = forms.IntegerField(min_value=0, max_value=MAX_THROTTLE, initial=0,
                                             help_text="Messages per minute; 0 for no limit.")
    track_opens = forms.BooleanField(required=False, initial=True)
    track_clicks = forms.BooleanField(required=False, initial=True)
    ab_enabled = forms.BooleanField(required=False, label="A/B test the subject line")
    subject_a = forms.CharField(max_length=998, required=False, label="Subject A")
    subject_b = forms.CharField(max_length=998, required=False, label="Subject B")
    ab_sample_percent = forms.IntegerField(min_value=1, max_value=50, initial=20, label="Test on % of the audience")
    ab_metric = forms.ChoiceField(choices=AbMetric.choices, initial=AbMetric.OPEN, label="Winner by")
    ab_wait_minutes = forms.IntegerField(min_value=1, max_value=60 * 24 * 7, initial=240,
                                         label="Pick the winner after (minutes)")

    def __init__(self, *args: Any, workspace: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = Template.objects.for_workspace(workspace).filter(  # type: ignore[attr-defined]
            channel=Channel.EMAIL).order_by("name")
        segments = segment_list(workspace=workspace).order_by("name")
        self.fields["segments"].queryset = segments  # type: ignore[attr-defined]
        self.fields["exclusion_segments"].queryset = segments  # type: ignore[attr-defined]
        self.fields["topic"].queryset = topic_list(workspace=workspace)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("ab_enabled") and not (data.get("subject_a") and data.get("subject_b")):
            self.add_error("subject_b", "Give both subjects to test.")
        return data

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        out: dict[str, Any] = {name: data[name] for name in (
            "name", "from_name", "from_email", "reply_to", "throttle_per_minute", "track_opens", "track_clicks",
            "ab_enabled", "ab_sample_percent", "ab_metric", "ab_wait_minutes")}
        out["template"] = data["template"].pk
        out["segments"] = [s.pk for s in data["segments"]]
        out["exclusion_segments"] = [s.pk for s in data["exclusion_segments"]]
        out["topic"] = data["topic"].pk if data["topic"] else None
        out["variants"] = [{"subject": data["subject_a"]}, {"subject": data["subject_b"]}] \
            if data["ab_enabled"] else []
        return out

    @staticmethod
    def initial_for(campaign: Campaign) -> dict[str, Any]:
        variants = list(campaign.variants.all())
        return {
            "name": campaign.name, "template": campaign.template_id, "segments": list(campaign.segments.all()),
            "exclusion_segments": list(campaign.exclusion_segments.all()), "topic": campaign.topic_id,
            "from_name": campaign.from_name, "from_email": campaign.from_email, "reply_to": campaign.reply_to,
            "throttle_per_minute": campaign.throttle_per_minute, "track_opens": campaign.track_opens,
            "track_clicks": campaign.track_clicks, "ab_enabled": campaign.ab_enabled,
            "ab_sample_percent": campaign.ab_sample_percent, "ab_metric": campaign.ab_metric,
            "ab_wait_minutes": campaign.ab_wait_minutes,
            "subject_a": variants[0].subject if variants else "", "subject_b": variants[1].subject
            if len(variants) > 1 else "",
        }


class ScheduleForm(forms.Form):
    schedule_kind = forms.ChoiceField(choices=ScheduleKind.choices, initial=ScheduleKind.NOW, label="When")
    send_at = forms.DateTimeField(required=False, label="Send at (UTC)",
                                  widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    local_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    local_time = forms.TimeField(required=False, widget=forms.TimeInput(attrs={"type": "time"}))
