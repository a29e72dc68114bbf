"""Forms of the deals pages. They check shape and offer only what the member may pick; services own the rules."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from kith.accounts.models import Membership, Workspace
from kith.contacts import selectors as contact_selectors
from kith.deals import selectors
from kith.deals.currencies import currency_normalize
from kith.deals.models import Pipeline
from kith.deals.services.deals import MAX_VALUE


class BoardFilterForm(forms.Form):
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Owner",
                                   widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    close_from = forms.DateField(required=False, label="Closing from", widget=forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}))
    close_to = forms.DateField(required=False, label="Closing until", widget=forms.DateInput(
        attrs={"type": "date", "class": "form-control form-control-sm"}))

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Anyone"), *selectors.deal_owner_choices(workspace=workspace)]


class DealForm(forms.Form):
    name = forms.CharField(max_length=255)
    pipeline = forms.ModelChoiceField(queryset=Pipeline.objects.none(), empty_label=None)
    stage = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                   help_text="The pipeline's first stage when left empty.")
    value = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0), max_value=MAX_VALUE,
                               required=False, initial=Decimal(0))
    currency = forms.CharField(max_length=3, min_length=3, initial="USD", help_text="ISO 4217, such as EUR.")
    expected_close_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    owner = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    contact = forms.ModelChoiceField(queryset=None, required=False)  # type: ignore[arg-type]
    company = forms.ModelChoiceField(queryset=None, required=False)  # type: ignore[arg-type]

    def __init__(self, *args: Any, workspace: Workspace, membership: Membership, editing: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        pipelines = selectors.pipeline_list(workspace=workspace)
        self.fields["pipeline"].queryset = pipelines
        self.fields["stage"].choices = [("", "First stage")] + [
            (stage.pk, f"{pipeline.name} · {stage.name}") for pipeline in pipelines for stage in pipeline.stages.all()]
        self.fields["owner"].choices = [("", "Nobody"), *selectors.deal_owner_choices(workspace=workspace)]
        self.fields["contact"].queryset = contact_selectors.contact_list(workspace=workspace,
                                                                         membership=membership).order_by("email")
        self.fields["company"].queryset = contact_selectors.company_list(workspace=workspace,
                                                                         membership=membership).order_by("name")
        if editing:
            # The stage changes through a move (history, timeline); the pipeline with it.
            del self.fields["stage"]
            del self.fields["pipeline"]

    def clean_currency(self) -> str:
        try:
            return currency_normalize(self.cleaned_data["currency"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc


class MoveForm(forms.Form):
    stage = forms.IntegerField(min_value=1)
    position = forms.IntegerField(min_value=0, max_value=1_000_000, required=False)
    lost_reason = forms.CharField(max_length=255, required=False)


class ConvertForm(forms.Form):
    company_name = forms.CharField(max_length=255, required=False,
                                   help_text="Left empty: the company of the contact's e-mail domain.")
    deal_name = forms.CharField(max_length=255, required=False)
    value = forms.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal(0), max_value=MAX_VALUE,
                               required=False)
    pipeline = forms.ModelChoiceField(queryset=Pipeline.objects.none(), required=False,
                                      empty_label="Default pipeline")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].queryset = selectors.pipeline_list(workspace=workspace)
