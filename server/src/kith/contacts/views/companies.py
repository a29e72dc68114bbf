"""Company pages: list, detail (its contacts, deals and timeline), create and edit. Thin like the contact pages."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from kith.contacts import selectors, services
from kith.contacts.forms import ActivityForm, CompanyForm
from kith.contacts.models import Company, ObjectType
from kith.contacts.views._common import (
    attribute_rows,
    keyset_page,
    require_writer,
    service_errors_to_form,
)
from kith.core.errors import KithError
from kith.deals import selectors as deal_selectors
from kith.deals.views import member_object_view
from kith.savedviews.layout import list_layout
from kith.savedviews.models import ListKind
from kith.search import selectors as search_selectors
from kith.search.query import parse as search_parse
from kith.timeline import selectors as timeline_selectors
from kith.timeline.services import activity_log_manual
from kith.web.views.base import MemberRequest, member_required, posted

# The detail page shows the newest of each related list; the contacts list filtered by company is not bounded here.
RELATED_LIMIT = 25


def _company(request: MemberRequest, pk: int) -> Company:
    return selectors.company_get(workspace=request.workspace, membership=request.membership, company_id=pk)


@member_required
@require_GET
def company_list(request: MemberRequest) -> HttpResponse:
    search, queryset = company_list_filtered(request)
    layout = list_layout(request, kind=ListKind.COMPANY)  # saved views: columns and sort (kith.savedviews)
    page = (layout.page(queryset, request.GET.get("page")) if layout.sort
            else keyset_page(queryset, request.GET.get("after")))
    query = request.GET.copy()
    query.pop("after", None)
    context = {"page": page, "search": search, "query": query.urlencode(),
               "can_write": request.membership.can_write, "layout": layout}
    if request.htmx and not request.htmx.boosted:
        return render(request, "contacts/_company_results.html", context)
    return render(request, "contacts/company_list.html", context)


def company_list_filtered(request: MemberRequest) -> tuple[str, QuerySet[Company]]:
    """The list's search text and the visible companies it selects (the list and its export read the same rows)."""
    queryset = selectors.company_list(workspace=request.workspace, membership=request.membership)
    search = request.GET.get("q", "").strip()[:100]
    if search:
        queryset = search_selectors.company_search(queryset, search_parse(search), workspace=request.workspace)
    return search, queryset


def _company_form_save(request: MemberRequest, form: CompanyForm, company: Company | None) -> Company | None:
    data = {**form.cleaned_data, "owner": form.cleaned_data.get("owner")}
    try:
        if company is None:
            return services.company_create(workspace=request.workspace, actor=request.user, data=data,
                                           membership=request.membership)
        return services.company_update(company=company, actor=request.user, data=data,
                                       membership=request.membership)
    except KithError as exc:
        service_errors_to_form(form, exc)
    return None


@member_required
def company_create(request: MemberRequest) -> HttpResponse:
    require_writer(request)
    form = CompanyForm(posted(request), workspace=request.workspace, initial={"owner": request.user.pk})
    if request.method == "POST" and form.is_valid():
        company = _company_form_save(request, form, None)
        if company is not None:
            messages.success(request, f"Company “{company.name}” added.")
            return redirect("web:company_detail", pk=company.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "contacts/company_form.html", {"form": form, "company": None}, status=status)


@member_object_view
def company_edit(request: MemberRequest, pk: int) -> HttpResponse:
    company = _company(request, pk)
    require_writer(request)
    initial = {"name": company.name, "domain": company.domain, "industry": company.industry, "size": company.size,
               "owner": company.owner_id}
    form = CompanyForm(posted(request), workspace=request.workspace, initial=initial)
    if request.method == "POST" and form.is_valid() and _company_form_save(request, form, company) is not None:
        messages.success(request, "Company saved.")
        return redirect("web:company_detail", pk=company.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "contacts/company_form.html", {"form": form, "company": company}, status=status)


@member_object_view
@require_GET
def company_detail(request: MemberRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _company(request, pk))


def _render_detail(request: MemberRequest, company: Company) -> HttpResponse:
    definitions = selectors.custom_field_definitions_by_key(workspace=request.workspace,
                                                            object_type=ObjectType.COMPANY)
    context = {
        "company": company,
        "attributes": attribute_rows(company.attributes, definitions),
        "contacts": selectors.contact_list(workspace=request.workspace, membership=request.membership)
        .filter(company=company)[:RELATED_LIMIT],
        "deals": deal_selectors.deal_list(workspace=request.workspace, membership=request.membership)
        .filter(company=company)[:RELATED_LIMIT],
        "activities": timeline_selectors.timeline_for_company(workspace=request.workspace,
                                                              company=company)[:RELATED_LIMIT],
        "activity_form": ActivityForm(),
        "can_write": request.membership.can_write,
    }
    return render(request, "contacts/company_detail.html", context)


@member_object_view
@require_http_methods(["GET", "POST"])
def company_activity_log(request: MemberRequest, pk: int) -> HttpResponse:
    company = _company(request, pk)
    if request.method == "GET":  # the form lives on the company page, which a GET (a reload after a POST) shows
        return _render_detail(request, company)
    require_writer(request)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            activity = activity_log_manual(workspace=request.workspace, actor=request.user, company=company,
                                           **form.cleaned_data)
        except KithError as exc:
            service_errors_to_form(form, exc)
        else:
            messages.success(request, f"{activity.get_kind_display()} logged.")
            return redirect("web:company_detail", pk=company.pk)
    messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("web:company_detail", pk=company.pk)
