"""Duplicate and merge pages: the "Possible duplicates" list, the duplicates panel of a contact, the side-by-side
comparison that merges, the merge record with its Undo button. Thin: reads through ``kith.contacts.duplicates`` and
the selectors, writes through the services."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from kith.contacts import duplicates, selectors, services
from kith.contacts.models import Contact, ContactMerge
from kith.contacts.services.merge import MERGE_FIELDS
from kith.contacts.views._common import require_writer
from kith.core.errors import KithError, NotFound
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    render_confirm,
    with_toast,
)

LABELS = {"email": "E-mail", "email_consent": "E-mail consent", "sms_consent": "SMS consent",
          "external_id": "External id", "last_seen_at": "Last seen"}


def _contact(request: MemberRequest, pk: Any) -> Contact:
    if not isinstance(pk, int) and not (isinstance(pk, str) and pk.isdigit() and len(pk) < 19):
        raise NotFound("No such contact.")
    return selectors.contact_get(workspace=request.workspace, membership=request.membership, contact_id=int(pk))


@member_required
@require_GET
def duplicate_list(request: MemberRequest) -> HttpResponse:
    pairs = duplicates.duplicate_pairs(workspace=request.workspace, membership=request.membership)
    return render(request, "contacts/duplicates.html", {"pairs": pairs, "can_write": request.membership.can_write})


@member_required
@require_POST
def duplicate_dismiss(request: MemberRequest) -> HttpResponse:
    """"Not a duplicate": from the list (the row disappears through HTMX) or the contact panel."""
    require_writer(request)
    try:
        first, second = _contact(request, request.POST.get("first")), _contact(request, request.POST.get("second"))
        services.duplicate_dismiss(first=first, second=second, actor=request.user)
    except KithError as exc:
        messages.error(request, exc.message)
        return redirect("web:contact_duplicates")
    if request.htmx:
        return with_toast(HttpResponse(""), "Marked as not a duplicate.")
    messages.success(request, "Marked as not a duplicate.")
    return redirect("web:contact_duplicates")


@member_object_view
@require_GET
def contact_duplicates_panel(request: MemberRequest, pk: int) -> HttpResponse:
    """The duplicates card of a contact page, loaded after the page so it never slows the page down."""
    contact = _contact(request, pk)
    pairs = duplicates.duplicate_pairs(workspace=request.workspace, membership=request.membership, contact=contact)
    others = [(pair.second if pair.first.pk == contact.pk else pair.first, pair) for pair in pairs]
    return render(request, "contacts/_duplicates_panel.html",
                  {"contact": contact, "others": others, "can_write": request.membership.can_write})


def _display(contact: Contact, field: str) -> str:
    if field == "company":
        return contact.company.name if contact.company else ""
    if field == "owner":
        return contact.owner.display_name if contact.owner else ""
    value = getattr(contact, field)
    if hasattr(contact, f"get_{field}_display"):
        return str(getattr(contact, f"get_{field}_display")())
    return "" if value is None else str(value)


def _rows(winner: Contact, loser: Contact, plan: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for field in MERGE_FIELDS:
        mine, theirs = _display(winner, field), _display(loser, field)
        label = LABELS.get(field, Contact._meta.get_field(field).verbose_name.capitalize())
        rows.append({"field": field, "label": label, "winner": mine, "loser": theirs, "side": plan[field],
                     "same": mine == theirs})
    return rows


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_merge(request: MemberRequest, pk: int) -> HttpResponse:
    """Compare this contact with ``?with=<id>`` side by side, pick a value per field, merge (POST). Without
    ``with``, offer this contact's likely duplicates to compare with."""
    winner = _contact(request, pk)
    other_id = request.POST.get("with") if request.method == "POST" else request.GET.get("with")
    if not other_id:
        pairs = duplicates.duplicate_pairs(workspace=request.workspace, membership=request.membership,
                                           contact=winner)
        others = [(pair.second if pair.first.pk == winner.pk else pair.first, pair) for pair in pairs]
        return render(request, "contacts/merge_pick.html", {"contact": winner, "others": others})
    loser = _contact(request, other_id)
    if loser.pk == winner.pk:
        raise NotFound("Pick another contact.")
    if request.method == "POST":
        require_writer(request)
        choices = {name: request.POST[f"side_{name}"] for name in (*MERGE_FIELDS, "attributes")
                   if request.POST.get(f"side_{name}") in ("winner", "loser")}
        try:
            merge = services.contact_merge(winner=winner, loser=loser, actor=request.user, field_choices=choices,
                                           membership=request.membership)
        except KithError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{merge.loser_label} was merged into {winner}.")
            return redirect("web:contact_merge_detail", pk=merge.pk)
    plan = services.merge_plan(winner=winner, loser=loser)
    context = {"winner": winner, "loser": loser, "rows": _rows(winner, loser, plan),
               "winner_tags": [t.name for t in winner.tags.all()], "loser_tags": [t.name for t in loser.tags.all()],
               "sides": [("Keep", winner, _counts(winner)), ("Merge away", loser, _counts(loser))],
               "can_write": request.membership.can_write}
    return render(request, "contacts/merge_compare.html", context, status=400 if request.method == "POST" else 200)


def _counts(contact: Contact) -> dict[str, int]:
    return {"activities": contact.activities.count(), "deals": contact.deals.count()}


def _merge(request: MemberRequest, pk: int) -> ContactMerge:
    merge = (ContactMerge.objects.for_workspace(request.workspace).select_related("winner", "merged_by", "undone_by")
             .filter(pk=pk).first())
    if merge is None:
        raise NotFound("No such merge.")
    if selectors.sees_only_own(request.membership) and (
            merge.winner is None or merge.winner.owner_id != request.membership.user_id):
        raise NotFound("No such merge.")
    return merge


def _model_name(relation_key: str) -> str:
    """``timeline.Activity.contact`` → "activities" (the key itself when the app is gone)."""
    try:
        return str(apps.get_model(relation_key.rpartition(".")[0])._meta.verbose_name_plural)
    except (LookupError, ValueError):
        return relation_key


@member_object_view
@require_GET
def merge_detail(request: MemberRequest, pk: int) -> HttpResponse:
    merge = _merge(request, pk)
    moved = {str(_model_name(key)): len(ids) for key, ids in merge.moved.items()}
    return render(request, "contacts/merge_detail.html", {
        "merge": merge, "moved": moved, "set_aside": len(merge.set_aside),
        "changes": sorted(name for name in merge.winner_changes if name != "updated_at"),
        "blocker": services.merge_undo_blocker(merge), "can_write": request.membership.can_write})


@member_object_view
@require_http_methods(["GET", "POST"])
def merge_undo(request: MemberRequest, pk: int) -> HttpResponse:
    merge = _merge(request, pk)
    require_writer(request)
    if request.method != "POST":
        return render_confirm(request, title="Undo this merge?",
                              message=f"{merge.loser_label} comes back as a separate contact with its own timeline, "
                                      "deals and tags; the other contact gets back the values the merge changed.",
                              confirm_label="Undo merge", tone="primary",
                              cancel_url=reverse("web:contact_merge_detail", kwargs={"pk": merge.pk}))
    try:
        restored = services.contact_merge_undo(merge=merge, actor=request.user, membership=request.membership)
    except KithError as exc:
        messages.error(request, exc.message)
        return redirect("web:contact_merge_detail", pk=merge.pk)
    messages.success(request, f"Merge undone: {restored} is a separate contact again.")
    return redirect("web:contact_detail", pk=restored.pk)
