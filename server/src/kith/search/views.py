"""The search box: the results page (``/search/?q=``) and the typeahead suggestions under the top-bar box."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from kith.search import selectors
from kith.search.query import parse
from kith.web.views.base import MemberRequest, member_required

# The dropdown shows a handful per group: enough to pick from while typing; "All results" opens the page.
SUGGEST_LIMIT = 5


@member_required
@require_GET
def search(request: MemberRequest) -> HttpResponse:
    query = parse(request.GET.get("q", ""))
    results = selectors.search_everything(workspace=request.workspace, membership=request.membership, query=query,
                                          limit=selectors.PAGE_GROUP_LIMIT)
    return render(request, "search/results.html", {"results": results, "q": request.GET.get("q", "")[:100]})


@member_required
@require_GET
def search_suggest(request: MemberRequest) -> HttpResponse:
    query = parse(request.GET.get("q", ""))
    results = selectors.search_everything(workspace=request.workspace, membership=request.membership, query=query,
                                          limit=SUGGEST_LIMIT)
    return render(request, "search/_suggestions.html", {"results": results, "q": request.GET.get("q", "")[:100]})
