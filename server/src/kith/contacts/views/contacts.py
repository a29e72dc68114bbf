"""Contact pages: the filtered list, detail with tags and timeline, create, edit and delete. Thin: read through
``kith.contacts.selectors``/``kith.timeline.selectors``, write through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from kith.contacts import selectors, services
from kith.contacts.forms import ActivityForm, ContactFilterForm, ContactForm, TagsForm
from kith.contacts.models import Contact, ObjectType
from kith.contacts.views._common import (
    attribute_rows,
    keyset_page,
    require_writer,
    service_errors_to_form,
)
from kith.contacts.views.inline import InlineField, field_rows
from kith.core.errors import KithError
from kith.savedviews.layout import list_layout
from kith.savedviews.models import ListKind
from kith.search import selectors as search_selectors
from kith.search.query import parse as search_parse
from kith.timeline import selectors as timeline_selectors
from kith.timeline.services import activity_log_manual
from kith.web.views.base import (
    MemberRequest,
    member_object_view,
    member_required,
    posted,
    render_confirm,
    with_toast,
)

TIMELINE_PAGE = 20
TAG_SUGGESTIONS = 100


def _contact(request: MemberRequest, pk: int) -> Contact:
    return selectors.contact_get(workspace=request.workspace, membership=request.membership, contact_id=pk)


@member_required
@require_GET
def contact_list(request: MemberRequest) -> HttpResponse:
    """The visible contacts, newest first, filtered by ``q``, ``lifecycle_stage``, ``lead_status``, ``owner`` and
    ``tag``; HTMX requests from the filter bar get only the results block."""
    form, filters, queryset = contact_list_filtered(request)
    layout = list_layout(request, kind=ListKind.CONTACT)  # saved views: columns and sort (kith.savedviews)
    page = (layout.page(queryset, request.GET.get("page")) if layout.sort
            else keyset_page(queryset, request.GET.get("after")))
    query = request.GET.copy()
    query.pop("after", None)
    context = {"form": form, "page": page, "filtered": bool(filters), "query": query.urlencode(),
               "can_write": request.membership.can_write, "layout": layout,
               # The owner and company cells edit in place (contacts/_cell.html); choices load when one is opened.
               "owner_field": InlineField("owner", "Owner", "select"),
               "company_field": InlineField("company", "Company", "select"),
               "tag_names": list(selectors.tag_list(workspace=request.workspace).order_by("name")
                                 .values_list("name", flat=True)[:TAG_SUGGESTIONS])}
    if request.htmx and not request.htmx.boosted:
        return render(request, "contacts/_results.html", context)
    return render(request, "contacts/list.html", context)


def contact_list_filtered(request: MemberRequest) -> tuple[ContactFilterForm, dict[str, Any], QuerySet[Contact]]:
    """The list's filter form, the filters it holds and the visible contacts they select (the list and its export
    read the same rows)."""
    form = ContactFilterForm(request.GET, workspace=request.workspace)
    filters = form.filters()
    queryset = selectors.contact_list(workspace=request.workspace, membership=request.membership)
    if search := filters.get("q", "").strip():
        queryset = search_selectors.contact_search(queryset, search_parse(search), workspace=request.workspace)
    for field in ("lifecycle_stage", "lead_status"):
        if field in filters:
            queryset = queryset.filter(**{field: filters[field]})
    if "owner" in filters:
        queryset = queryset.filter(owner_id=filters["owner"])
    if tag := filters.get("tag", "").strip():
        queryset = selectors.with_all_tags(queryset, workspace=request.workspace, names=[tag])
    for definition, value in form.attribute_values():
        filters[f"attr.{definition.key}"] = value
        queryset = selectors.with_attribute_equal(queryset, definition=definition, value=value)
    return form, filters, queryset


@member_required
def contact_create(request: MemberRequest) -> HttpResponse:
    require_writer(request)
    form = ContactForm(posted(request), workspace=request.workspace, membership=request.membership,
                       initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(workspace=request.workspace, actor=request.user,
                                              data=form.service_data(), membership=request.membership)
        except KithError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, f"{contact.full_name or contact.email or 'Contact'} added.")
            return redirect("web:contact_detail", pk=contact.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "contacts/form.html", {"form": form, "contact": None}, status=status)


@member_object_view
def contact_edit(request: MemberRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    require_writer(request)
    initial = {name: getattr(contact, name) for name in ContactForm.base_fields if name not in ("company", "owner")}
    initial |= {"company": contact.company_id, "owner": contact.owner_id}
    form = ContactForm(posted(request), workspace=request.workspace, membership=request.membership, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(contact=contact, actor=request.user, data=form.service_data(),
                                    membership=request.membership)
        except KithError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, "Contact saved.")
            return redirect("web:contact_detail", pk=contact.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "contacts/form.html", {"form": form, "contact": contact}, status=status)


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_delete(request: MemberRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    require_writer(request)
    label = contact.full_name or contact.email or f"contact #{contact.pk}"
    if request.method != "POST":
        return render_confirm(request, title="Delete contact?",
                              message=f"{label} and their tags will be deleted. The timeline goes with them.",
                              confirm_label="Delete contact",
                              cancel_url=reverse("web:contact_detail", kwargs={"pk": contact.pk}))
    services.contact_delete(contact=contact, actor=request.user)
    messages.success(request, f"{label} deleted.")
    return redirect("web:contact_list")


@member_object_view
@require_GET
def contact_detail(request: MemberRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _contact(request, pk))


def _render_detail(request: MemberRequest, contact: Contact) -> HttpResponse:
    definitions = selectors.custom_field_definitions_by_key(workspace=request.workspace,
                                                            object_type=ObjectType.CONTACT)
    context = {"contact": contact, "attributes": attribute_rows(contact.attributes, definitions),
               "tags": [tag.name for tag in contact.tags.all()], "can_write": request.membership.can_write,
               "tags_form": TagsForm(), "activity_form": ActivityForm(),
               "inline_fields": field_rows(contact, workspace=request.workspace),
               **_timeline_context(request, contact, offset=0)}
    return render(request, "contacts/detail.html", context)


def _timeline_context(request: MemberRequest, contact: Contact, *, offset: int) -> dict[str, object]:
    rows = list(timeline_selectors.timeline_for_contact(workspace=request.workspace, contact=contact)
                [offset: offset + TIMELINE_PAGE + 1])
    more = len(rows) > TIMELINE_PAGE
    return {"activities": rows[:TIMELINE_PAGE], "next_offset": offset + TIMELINE_PAGE if more else None,
            "timeline_url": reverse("web:contact_timeline", kwargs={"pk": contact.pk})}


@member_object_view
@require_GET
def contact_timeline(request: MemberRequest, pk: int) -> HttpResponse:
    """The next page of the timeline ("Load more"), newest first."""
    contact = _contact(request, pk)
    raw = request.GET.get("offset", "0")
    offset = int(raw) if raw.isdigit() and len(raw) < 9 else 0
    return render(request, "contacts/_timeline_items.html", _timeline_context(request, contact, offset=offset))


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_activity_log(request: MemberRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    if request.method == "GET":  # the form lives on the contact page, which a GET (a reload after a POST) shows
        return _render_detail(request, contact)
    require_writer(request)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            activity = activity_log_manual(workspace=request.workspace, actor=request.user,
                                           contact=contact, company=contact.company, **form.cleaned_data)
        except KithError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, f"{activity.get_kind_display()} logged.")
            return redirect("web:contact_detail", pk=contact.pk)
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("web:contact_detail", pk=contact.pk)


def _tags_response(request: MemberRequest, contact: Contact, form: TagsForm, toast: str) -> HttpResponse:
    if not request.htmx:
        if form.errors:
            messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("web:contact_detail", pk=contact.pk)
    context = {"contact": contact, "tags": selectors.contact_tag_names(contact=contact), "tags_form": form,
               "can_write": True}
    response = render(request, "contacts/_tags.html", context, status=400 if form.errors else 200)
    return response if form.errors else with_toast(response, toast)


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_tags_add(request: MemberRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    if request.method == "GET":  # the form lives on the contact page, which a GET (a reload after a POST) shows
        return _render_detail(request, contact)
    require_writer(request)
    form = TagsForm(request.POST)
    if form.is_valid():
        try:
            services.contact_add_tags(contact=contact, actor=request.user, names=form.cleaned_data["names"])
        except KithError as exc:
            service_errors_to_form(form, exc)
        else:
            return _tags_response(request, contact, TagsForm(), "Tags added.")
    return _tags_response(request, contact, form, "")


@member_object_view
@require_http_methods(["GET", "POST"])
def contact_tag_remove(request: MemberRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    if request.method == "GET":  # the form lives on the contact page, which a GET (a reload after a POST) shows
        return _render_detail(request, contact)
    require_writer(request)
    name = request.POST.get("name", "")
    form = TagsForm()
    try:
        services.contact_remove_tags(contact=contact, actor=request.user, names=[name])
    except KithError as exc:
        bound = TagsForm({"names": name})
        bound.is_valid()
        service_errors_to_form(bound, exc)
        return _tags_response(request, contact, bound, "")
    return _tags_response(request, contact, form, f"Tag “{name}” removed.")
