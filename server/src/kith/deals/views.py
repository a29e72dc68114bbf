"""The deals pages: Kanban board, list, detail, create/edit, move, and lead conversion. Thin: read through the
selectors, write through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from kith.contacts import selectors as contact_selectors
from kith.contacts.errors import InvalidFields
from kith.core.errors import KithError, NotFound
from kith.deals import selectors, services
from kith.deals.filters import DealFilter
from kith.deals.forms import BoardFilterForm, ConvertForm, DealForm, MoveForm
from kith.deals.models import Deal, Pipeline
from kith.savedviews.layout import list_layout
from kith.savedviews.models import ListKind
from kith.search import selectors as search_selectors
from kith.search.query import parse as search_parse
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    KithRequest,
    MemberRequest,
    member_object_view,
    member_required,
    posted,
)

LIST_PAGE_SIZE = 50


def _require_writer(request: MemberRequest) -> None:
    if not request.membership.can_write:
        raise PermissionDenied("Viewers can look at deals but not change them.")


def _deal(request: MemberRequest, pk: int) -> Deal:
    return selectors.deal_get(workspace=request.workspace, membership=request.membership, deal_id=pk)


def _pipeline_from(request: MemberRequest, pipelines: list[Pipeline]) -> Pipeline | None:
    wanted = request.GET.get("pipeline", "")
    for pipeline in pipelines:
        if str(pipeline.pk) == wanted:
            return pipeline
    return next((p for p in pipelines if p.is_default), pipelines[0] if pipelines else None)


@member_required
def deal_board(request: MemberRequest) -> HttpResponse:
    """The Kanban board of one pipeline, filtered by owner and expected close date."""
    pipelines = list(selectors.pipeline_list(workspace=request.workspace))
    pipeline = _pipeline_from(request, pipelines)
    form = BoardFilterForm(request.GET or None, workspace=request.workspace)
    filters = form.cleaned_data if form.is_valid() else {}
    columns = []
    if pipeline is not None:
        columns = selectors.deal_board(workspace=request.workspace, membership=request.membership,
                                       pipeline=pipeline, owner_id=filters.get("owner"),
                                       close_from=filters.get("close_from"), close_to=filters.get("close_to"))
    # The stages as a list once: every card's "Move to" menu loops over them.
    stages = [column.stage for column in columns]
    version = (selectors.board_version(workspace=request.workspace, membership=request.membership, pipeline=pipeline)
               if pipeline is not None else "")
    context = {"pipelines": pipelines, "pipeline": pipeline, "columns": columns, "form": form, "stages": stages,
               "version": version,
               "deals_root": reverse("web:deal_board"), "can_write": request.membership.can_write,
               "board_url": request.get_full_path()}
    return render(request, "deals/board.html", context)


@member_required
def deal_board_version(request: MemberRequest) -> HttpResponse:
    """``{"version": …}`` of one pipeline's board (``?pipeline=``), polled by open boards to notice others' moves."""
    pipelines = list(selectors.pipeline_list(workspace=request.workspace))
    wanted = request.GET.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.pk) == wanted), None)
    if pipeline is None:
        raise Http404("No such pipeline.")
    version = selectors.board_version(workspace=request.workspace, membership=request.membership, pipeline=pipeline)
    response = JsonResponse({"version": version})
    response["Cache-Control"] = "no-store"
    return response


@member_required
def deal_list(request: MemberRequest) -> HttpResponse:
    """Every visible deal with the API's filters (``?pipeline=&stage=&status=&owner=&expected_close_after=``)."""
    search, filterset, deals = deal_list_filtered(request)
    layout = list_layout(request, kind=ListKind.DEAL)  # saved views: columns and sort (kith.savedviews)
    page = Paginator(layout.ordered(deals), LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    board_filters = BoardFilterForm(None, workspace=request.workspace)
    context = {"page": page, "filterset": filterset, "search": search,
               "owners": board_filters.fields["owner"].choices,
               "pipelines": selectors.pipeline_list(workspace=request.workspace),
               "can_write": request.membership.can_write, "layout": layout}
    return render(request, "deals/list.html", context, status=200 if filterset.is_valid() else 400)


def deal_list_filtered(request: MemberRequest) -> tuple[str, DealFilter, QuerySet[Deal]]:
    """The list's search text, its filter set and the visible deals they select (none while a filter is invalid);
    the list and its export read the same rows."""
    queryset = selectors.deal_list(workspace=request.workspace, membership=request.membership)
    search = request.GET.get("q", "").strip()
    if search:
        queryset = search_selectors.deal_search(queryset, search_parse(search), workspace=request.workspace)
    filterset = DealFilter(request.GET, queryset=queryset, request=request)
    return search, filterset, filterset.qs if filterset.is_valid() else queryset.none()


def _deal_form_save(request: MemberRequest, form: DealForm, deal: Deal | None) -> Deal | None:
    data = form.cleaned_data
    refs: dict[str, Any] = {
        "owner": selectors.deal_owner_get(workspace=request.workspace, user_id=data.get("owner")),
        "contact": data.get("contact"), "company": data.get("company"),
    }
    try:
        if deal is None:
            stage = None
            if data.get("stage") is not None:
                stage = selectors.stage_get(workspace=request.workspace, stage_id=data["stage"])
            return services.deal_create(
                workspace=request.workspace, actor=request.user, pipeline=data["pipeline"], stage=stage,
                name=data["name"], value=data.get("value"), currency=data["currency"],
                expected_close_date=data.get("expected_close_date"), **refs)
        changes = {"name": data["name"], "value": data.get("value"), "currency": data["currency"],
                   "expected_close_date": data.get("expected_close_date"), **refs}
        return services.deal_update(deal=deal, actor=request.user, changes=changes)
    except InvalidFields as exc:
        for field, errors in exc.errors.items():
            form.add_error(field if field in form.fields else None, errors)
    except NotFound as exc:
        form.add_error(None, exc.message)
    except KithError as exc:
        add_domain_error(form, exc)
    return None


@member_required
def deal_create(request: MemberRequest) -> HttpResponse:
    _require_writer(request)
    initial = {"owner": request.user.pk, "pipeline": request.GET.get("pipeline")}
    form = DealForm(posted(request), workspace=request.workspace, membership=request.membership, initial=initial)
    if request.method == "POST" and form.is_valid():
        deal = _deal_form_save(request, form, None)
        if deal is not None:
            messages.success(request, f"Deal “{deal.name}” created.")
            return redirect("web:deal_detail", pk=deal.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "deals/form.html", {"form": form, "deal": None}, status=status)


@member_object_view
def deal_edit(request: MemberRequest, pk: int) -> HttpResponse:
    deal = _deal(request, pk)
    _require_writer(request)
    initial = {"name": deal.name, "value": deal.value, "currency": deal.currency,
               "expected_close_date": deal.expected_close_date, "owner": deal.owner_id,
               "contact": deal.contact_id, "company": deal.company_id}
    form = DealForm(posted(request), workspace=request.workspace, membership=request.membership, editing=True,
                    initial=initial)
    if request.method == "POST" and form.is_valid():
        saved = _deal_form_save(request, form, deal)
        if saved is not None:
            messages.success(request, "Deal saved.")
            return redirect("web:deal_detail", pk=deal.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "deals/form.html", {"form": form, "deal": deal}, status=status)


@member_object_view
def deal_detail(request: MemberRequest, pk: int) -> HttpResponse:
    return _render_detail(request, _deal(request, pk))


def _render_detail(request: MemberRequest, deal: Deal) -> HttpResponse:
    pipeline = selectors.pipeline_get(workspace=request.workspace, pipeline_id=deal.pipeline_id)
    context = {"deal": deal, "stages": list(pipeline.stages.all()),
               "history": selectors.deal_stage_history(deal=deal),
               "activities": selectors.deal_activities(deal=deal), "can_write": request.membership.can_write}
    return render(request, "deals/detail.html", context)


def _wants_json(request: KithRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@member_object_view
@require_http_methods(["GET", "POST"])
def deal_move(request: MemberRequest, pk: int) -> HttpResponse:
    """Move a card: from the board's script (JSON answer) or from a plain form (redirect back). GET shows the move
    form, which the deal page carries."""
    deal = _deal(request, pk)
    if request.method == "GET":
        return _render_detail(request, deal)
    _require_writer(request)
    form = MoveForm(request.POST)
    error = "Choose a stage."
    if form.is_valid():
        try:
            stage = selectors.stage_get(workspace=request.workspace, stage_id=form.cleaned_data["stage"])
            deal = services.deal_move_to_stage(deal=deal, stage=stage, actor=request.user,
                                               position=form.cleaned_data.get("position"),
                                               lost_reason=form.cleaned_data.get("lost_reason") or None)
        except NotFound:
            error = "No such stage."
        except KithError as exc:
            error = exc.message
        else:
            error = ""
    if _wants_json(request):
        if error:
            return JsonResponse({"error": error}, status=400)
        return JsonResponse({"id": deal.pk, "stage": deal.stage_id, "stage_name": deal.stage.name,
                             "status": deal.status, "position": deal.position})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"“{deal.name}” moved to {deal.stage.name}.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("web:deal_detail", kwargs={"pk": deal.pk})
    return redirect(back)


@member_object_view
def deal_convert(request: MemberRequest, contact_id: int) -> HttpResponse:
    """Convert a lead into contact + company + deal (the contacts pages link here)."""
    contact = contact_selectors.contact_get(workspace=request.workspace, membership=request.membership,
                                            contact_id=contact_id)
    _require_writer(request)
    form = ConvertForm(posted(request), workspace=request.workspace)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            deal = services.lead_convert(workspace=request.workspace, contact=contact, actor=request.user,
                                         company_name=data.get("company_name") or None,
                                         deal_name=data.get("deal_name") or None, value=data.get("value"),
                                         pipeline=data.get("pipeline"), membership=request.membership)
        except InvalidFields as exc:
            for field, errors in exc.errors.items():
                form.add_error(field if field in form.fields else None, errors)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{contact.email or 'The lead'} converted; deal “{deal.name}” opened.")
            return redirect("web:deal_detail", pk=deal.pk)
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "deals/convert.html", {"form": form, "contact": contact}, status=status)
