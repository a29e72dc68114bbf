"""Forms of the contacts and companies pages. They only collect input: the services validate and normalize it
(``kith.contacts.validation``), and the views copy the services' field errors back onto these forms."""

from __future__ import annotations

from typing import Any

from django import forms

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.models import CompanySize, LeadStatus, LifecycleStage
from kith.timeline.models import MANUAL_KINDS, ActivityKind

BLANK = [("", "—")]


def _owner_choices(workspace: Workspace) -> list[tuple[str, str]]:
    members = Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__email")
    return BLANK + [(str(m.user_id), m.user.display_name) for m in members]


class ContactForm(forms.Form):
    # Plain text fields on purpose: e-mail and phone are checked and normalized by the service, so a browser or
    # Django validator cannot disagree with the API about what is valid.
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.CharField(label="E-mail", max_length=254, required=False)
    phone = forms.CharField(max_length=32, required=False)
    company = forms.TypedChoiceField(choices=(), required=False, coerce=int, empty_value=None)
    owner = forms.TypedChoiceField(choices=(), required=False, coerce=int, empty_value=None)
    lifecycle_stage = forms.ChoiceField(choices=LifecycleStage.choices, initial=LifecycleStage.LEAD)
    lead_status = forms.ChoiceField(choices=LeadStatus.choices, initial=LeadStatus.NEW)

    def __init__(self, *args: Any, workspace: Workspace, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        companies = selectors.company_list(workspace=workspace, membership=membership).order_by("name")
        self.fields["company"].choices = BLANK + [(str(c.pk), c.name) for c in companies.select_related(None).only("pk", "name")]
        self.fields["owner"].choices = _owner_choices(workspace)

    def service_data(self) -> dict[str, Any]:
        """The cleaned values in the shape the contact services take (references as ids, blanks as "")."""
        data = dict(self.cleaned_data)
        return {**data, "company": data.get("company"), "owner": data.get("owner")}


class CompanyForm(forms.Form):
    name = forms.CharField(max_length=255)
    domain = forms.CharField(max_length=253, required=False)
    industry = forms.CharField(max_length=100, required=False)
    size = forms.ChoiceField(choices=BLANK + list(CompanySize.choices), required=False)
    owner = forms.TypedChoiceField(choices=(), required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = _owner_choices(workspace)


class TagsForm(forms.Form):
    names = forms.CharField(label="Tags", max_length=500, help_text="Separate several with commas.")

    def clean_names(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["names"].split(",") if name.strip()]
        if not names:
            raise forms.ValidationError("Name at least one tag.")
        return names


# The kinds a person logs by hand, most common first (the service checks against ``MANUAL_KINDS``).
LOGGED_KINDS = (ActivityKind.NOTE, ActivityKind.CALL, ActivityKind.MEETING)
assert set(LOGGED_KINDS) == MANUAL_KINDS


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(choices=[(k.value, k.label) for k in LOGGED_KINDS], initial=ActivityKind.NOTE)
    title = forms.CharField(max_length=255, required=False)
    body = forms.CharField(label="Text", widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ContactFilterForm(forms.Form):
    """The list's GET filters. An invalid value (a hand-edited URL) drops that one filter instead of failing."""

    q = forms.CharField(max_length=100, required=False)
    lifecycle_stage = forms.ChoiceField(choices=[("", "Any stage"), *LifecycleStage.choices], required=False)
    lead_status = forms.ChoiceField(choices=[("", "Any status"), *LeadStatus.choices], required=False)
    owner = forms.TypedChoiceField(choices=(), required=False, coerce=int, empty_value=None)
    tag = forms.CharField(max_length=100, required=False)

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Any owner"), *_owner_choices(workspace)[1:]]

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items() if value not in ("", None)}
