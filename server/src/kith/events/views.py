"""Event settings pages (owners and admins): write keys, the trait mapping, and a live debugger of recent events."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from kith.accounts import selectors as account_selectors
from kith.accounts.models import ApiKeyScope
from kith.contacts.errors import InvalidFields
from kith.core.errors import KithError
from kith.events import selectors, services
from kith.events.services.traits import (
    DEFAULT_TRAIT_MAPPING,
    FIELD_TARGETS,
    effective_mapping,
)
from kith.web.views.base import MemberRequest, admin_required

MAX_MAPPING_TEXT = 20_000


class TraitMappingForm(forms.Form):
    """One ``trait = target`` per line; an empty target ignores the trait."""

    mapping = forms.CharField(
        required=False, max_length=MAX_MAPPING_TEXT, label="Your mapping",
        widget=forms.Textarea(attrs={"rows": 8, "class": "form-control font-monospace", "spellcheck": "false"}),
        help_text="One trait per line: trait = field. Fields: " + ", ".join(FIELD_TARGETS)
                  + ", or attributes.<key> of a custom contact field. Leave the field empty to ignore a trait.",
    )

    def clean_mapping(self) -> dict[str, str]:
        entries: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["mapping"].splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            trait, sep, target = line.partition("=")
            if not sep or not trait.strip():
                raise forms.ValidationError(f"Line {number}: write trait = field.")
            entries[trait.strip()] = target.strip()
        return entries

    @staticmethod
    def as_text(mapping: dict[str, str]) -> str:
        return "\n".join(f"{trait} = {target}" for trait, target in mapping.items())


def _write_keys(request: MemberRequest) -> list:
    return [key for key in account_selectors.api_key_list(workspace=request.workspace)
            if key.is_active and (ApiKeyScope.EVENTS in key.scopes or ApiKeyScope.WRITE in key.scopes)]


@admin_required
@require_http_methods(["GET", "POST"])
def event_settings(request: MemberRequest) -> HttpResponse:
    settings = selectors.event_settings_get(workspace=request.workspace)
    form = TraitMappingForm(request.POST if request.method == "POST" else None,
                            initial={"mapping": TraitMappingForm.as_text(settings.trait_mapping)})
    if request.method == "POST" and form.is_valid():
        try:
            services.trait_mapping_update(workspace=request.workspace, actor=request.user,
                                          mapping=form.cleaned_data["mapping"])
        except InvalidFields as exc:
            for field, problems in exc.errors.items():
                for problem in problems:
                    form.add_error("mapping", f"{field.removeprefix('trait_mapping.')}: {problem}")
        else:
            messages.success(request, "The trait mapping was saved.")
            return redirect("events:settings")
    context = {
        "form": form,
        "write_keys": _write_keys(request),
        "defaults": DEFAULT_TRAIT_MAPPING,
        "effective": effective_mapping(settings.trait_mapping),
        "ingest_url": request.build_absolute_uri("/").rstrip("/"),
    }
    return render(request, "events/settings.html", context, status=400 if form.errors else 200)


@admin_required
@require_POST
def write_key_create(request: MemberRequest) -> HttpResponse:
    try:
        key, raw = services.event_write_key_create(workspace=request.workspace, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
        return redirect("events:settings")
    # Shown in this response only (no session, no redirect) and kept out of caches, like every new API key.
    response = render(request, "events/write_key_created.html",
                      {"api_key": key, "raw_key": raw, "ingest_url": request.build_absolute_uri("/").rstrip("/")})
    add_never_cache_headers(response)
    return response


@admin_required
def event_debugger(request: MemberRequest) -> HttpResponse:
    """The latest events as they arrive; the table refreshes itself every few seconds through HTMX."""
    context = {"events": selectors.event_recent(workspace=request.workspace)}
    template = "events/_debugger_rows.html" if request.htmx else "events/debugger.html"
    return render(request, template, context)
