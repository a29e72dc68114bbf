"""Forms of the contacts and companies pages. They only collect input: the services validate and normalize it
(``kith.contacts.validation``), and the views copy the services' field errors back onto these forms."""

from __future__ import annotations

from typing import Any

from django import forms

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors
from kith.contacts.attributes import filter_value_parse
from kith.contacts.errors import InvalidFields
from kith.contacts.models import (
    CompanySize,
    CustomFieldDefinition,
    FieldType,
    LeadStatus,
    LifecycleStage,
    ObjectType,
)
from kith.timeline.models import MANUAL_KINDS, ActivityKind

BLANK = [("", "—")]
ATTRIBUTE_PREFIX = "attr."


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
        # One filter per contact custom field, named as in the API (attr.<key>) so a list URL and an API query
        # read the same; values are parsed by the field's type with the API's parser (``filter_value_parse``).
        self.definitions = selectors.custom_field_definitions_by_key(workspace=workspace,
                                                                     object_type=ObjectType.CONTACT)
        for definition in sorted(self.definitions.values(), key=lambda d: d.label.casefold()):
            self.fields[f"{ATTRIBUTE_PREFIX}{definition.key}"] = _attribute_filter_field(definition)

    @property
    def attribute_filters(self) -> list[tuple[forms.BoundField, CustomFieldDefinition]]:
        """The custom attribute filters of the filter bar, with their definitions, by label."""
        return [(self[name], self.definitions[name.removeprefix(ATTRIBUTE_PREFIX)])
                for name in self.fields if name.startswith(ATTRIBUTE_PREFIX)]

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {name: value for name, value in getattr(self, "cleaned_data", {}).items()
                if value not in ("", None) and not name.startswith(ATTRIBUTE_PREFIX)}

    def attribute_values(self) -> list[tuple[CustomFieldDefinition, Any]]:
        """The attribute filters given, parsed by their field's type; an unparsable one is dropped with its error
        shown on the filter (a hand-edited URL narrows nothing rather than failing)."""
        self.is_valid()
        found: list[tuple[CustomFieldDefinition, Any]] = []
        for bound, definition in self.attribute_filters:
            raw = str(self.cleaned_data.get(bound.name) or "").strip() if hasattr(self, "cleaned_data") else ""
            if not raw:
                continue
            try:
                found.append((definition, filter_value_parse(definition=definition, raw=raw)))
            except InvalidFields as exc:
                self.add_error(bound.name, " ".join(m for ms in exc.errors.values() for m in ms))
        return found


_FILTER_INPUT_TYPES = {FieldType.NUMBER: "number", FieldType.DATE: "date"}


def _attribute_filter_field(definition: CustomFieldDefinition) -> forms.Field:
    """A filter-bar input for ``definition``: a select for choices and yes/no, else a typed text input."""
    attrs = {"class": "form-control form-control-sm kith-attr-filter", "id": f"f-attr-{definition.key}",
             "autocomplete": "off"}
    if definition.field_type == FieldType.BOOLEAN:
        choices = [("", "Any"), ("true", "Yes"), ("false", "No")]
    elif definition.field_type in (FieldType.SINGLE_CHOICE, FieldType.MULTI_CHOICE):
        choices = [("", "Any"), *((c, c) for c in definition.choices)]
    else:
        input_type = _FILTER_INPUT_TYPES.get(FieldType(definition.field_type), "text")
        attrs["type"] = input_type
        if input_type == "number":
            attrs["step"] = "any"
        return forms.CharField(label=definition.label, required=False, max_length=200,
                               widget=forms.TextInput(attrs=attrs))
    attrs["class"] = "form-select form-select-sm"  # selects already trigger the filter bar
    # A CharField, not a ChoiceField: the value is checked by ``filter_value_parse`` like the API's (which folds
    # case, ?attr.plan=pro), not refused here by an exact-match choice check.
    return forms.CharField(label=definition.label, required=False, max_length=200,
                           widget=forms.Select(attrs=attrs, choices=choices))
