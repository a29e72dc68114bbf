"""Reads of the search box: which contacts, companies and deals match what was typed, best first.

PostgreSQL: a row matches when every word is a prefix of a word of its ``tsvector`` (``ada lov`` finds Ada
Lovelace), or when the whole input is a substring of its text (``lovel``, ``@example.c``) or similar to a word in
it (``lovelase``); both served by the GIN indexes of ``kith.search.documents``. Ranked by ``ts_rank`` plus trigram
word similarity.

SQLite (the embedded default): every word must be contained in a name, the e-mail or the phone (``LIKE`` with
Django's escaping); ranked exact e-mail, then name prefix, then the rest. No index serves this, which is fine at
the size an embedded installation holds.

Either way a contact also matches through its company's name or domain, and a deal through its name or its
company. These functions only narrow the querysets they are given: visibility (a rep limited to their own records)
comes from the ``kith.contacts``/``kith.deals`` selectors the callers start from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchQuery as PgQuery
from django.contrib.postgres.search import SearchRank, TrigramWordSimilarity
from django.db import connections
from django.db.models import (
    BooleanField,
    Case,
    FloatField,
    Func,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.expressions import Combinable

from kith.accounts.models import Membership, Workspace
from kith.contacts.models import Company, Contact
from kith.contacts.selectors import company_list, contact_list
from kith.deals.models import Deal
from kith.deals.selectors import deal_list
from kith.search import documents
from kith.search.query import SearchQuery

# Results per group in the search box and on the results page: a person scans a few, then refines the words.
GROUP_LIMIT = 8
PAGE_GROUP_LIMIT = 25


class _WordSimilar(Func):
    """``text %> query``: the query is similar to some word of ``text`` (pg_trgm's word_similarity at or above
    ``pg_trgm.word_similarity_threshold``, 0.6 by default); an operator, so the trigram GIN index serves it."""

    template = "%(expressions)s"
    arg_joiner = " %%> "
    output_field = BooleanField()


def _is_postgres(queryset: QuerySet[Any]) -> bool:
    return connections[queryset.db].vendor == "postgresql"


def _pg_match(vector: Combinable, text: Combinable, query: SearchQuery) -> Q:
    condition = Q(_TsMatch(vector, PgQuery(query.tsquery(), search_type="raw", config=documents.CONFIG)))
    condition |= Q(_Contains(text, Value(query.text)))
    if query.fuzzy:
        condition |= Q(_WordSimilar(text, Value(query.text)))
    if query.phone_digits:
        condition |= Q(_Contains(text, Value(query.phone_digits)))
    return condition


class _TsMatch(Func):
    template = "%(expressions)s"
    arg_joiner = " @@ "
    output_field = BooleanField()


class _Contains(Func):
    """``text LIKE '%…%'`` with ``%``, ``_`` and the escape character of the value escaped, so input such as
    ``50%_off\\`` is matched literally. The pattern is a bound parameter."""

    template = "%(expressions)s"
    arg_joiner = " LIKE "
    output_field = BooleanField()

    def __init__(self, text: Combinable, value: Value) -> None:
        escaped = value.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        super().__init__(text, Value(f"%{escaped}%"))


def _pg_rank(vector: Combinable, text: Combinable, query: SearchQuery) -> Combinable:
    ts_query = PgQuery(query.tsquery(), search_type="raw", config=documents.CONFIG)
    return SearchRank(vector, ts_query) + TrigramWordSimilarity(Value(query.text), text)


def _sqlite_terms(query: SearchQuery, fields: tuple[str, ...]) -> Q:
    condition = Q()
    for term in query.terms:
        either = Q()
        for name in fields:
            either |= Q(**{f"{name}__icontains": term})
        condition &= either
    return condition


def _companies_matching(workspace: Workspace, query: SearchQuery, *, using: str) -> QuerySet[Company]:
    companies = Company.objects.using(using).filter(workspace=workspace)
    if connections[using].vendor == "postgresql":
        return companies.filter(_pg_match(documents.company_vector(), documents.company_text(), query))
    return companies.filter(_sqlite_terms(query, ("name", "domain")))


def contact_search(queryset: QuerySet[Contact], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Contact]:
    """``queryset`` narrowed to the contacts matching ``query``; order unchanged (an empty query matches none)."""
    if query.is_empty:
        return queryset.none()
    companies = _companies_matching(workspace, query, using=queryset.db).values("pk")
    if _is_postgres(queryset):
        # A subquery of its own, so PostgreSQL can answer it with a BitmapOr of the two GIN indexes (an OR with
        # the company condition in one WHERE would force a scan of the workspace's contacts).
        own = Q(pk__in=Contact.objects.using(queryset.db).filter(workspace=workspace).filter(
            _pg_match(documents.contact_vector(), documents.contact_text(), query)).values("pk"))
    else:
        own = _sqlite_terms(query, ("first_name", "last_name", "email"))
        if query.phone_digits:
            own |= Q(phone__contains=query.phone_digits)
    return queryset.filter(own | Q(company_id__in=companies))


def company_search(queryset: QuerySet[Company], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Company]:
    if query.is_empty:
        return queryset.none()
    return queryset.filter(pk__in=_companies_matching(workspace, query, using=queryset.db).values("pk"))


def deal_search(queryset: QuerySet[Deal], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Deal]:
    if query.is_empty:
        return queryset.none()
    companies = _companies_matching(workspace, query, using=queryset.db).values("pk")
    if _is_postgres(queryset):
        own = Q(pk__in=Deal.objects.using(queryset.db).filter(workspace=workspace).filter(
            _pg_match(documents.deal_vector(), documents.deal_text(), query)).values("pk"))
    else:
        own = _sqlite_terms(query, ("name",))
    return queryset.filter(own | Q(company_id__in=companies))


def _ranked(queryset: QuerySet[Any], query: SearchQuery, *, vector: Callable[[], Combinable],
            text: Callable[[], Combinable], exact: Q, word: Q, prefix: Q) -> QuerySet[Any]:
    """Best first. PostgreSQL: ts_rank (name words weigh more than e-mail, e-mail more than phone) plus trigram
    similarity, plus 1 for an exact e-mail/name. SQLite: exact, then a whole word, then a prefix, then the rest."""
    if _is_postgres(queryset):
        rank: Combinable = _pg_rank(vector(), text(), query) + Case(When(exact, then=Value(1.0)), default=Value(0.0),
                                                                     output_field=FloatField())
    else:
        rank = Case(When(exact, then=Value(3.0)), When(word, then=Value(2.0)), When(prefix, then=Value(1.0)),
                    default=Value(0.0), output_field=FloatField())
    return queryset.annotate(search_rank=rank).order_by("-search_rank", "-id")


def contacts_ranked(queryset: QuerySet[Contact], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Contact]:
    first = query.terms[0] if query.terms else ""
    return _ranked(contact_search(queryset, query, workspace=workspace), query, vector=documents.contact_vector,
                   text=documents.contact_text, exact=Q(email=query.text),
                   word=Q(first_name__iexact=first) | Q(last_name__iexact=first),
                   prefix=Q(first_name__istartswith=first) | Q(last_name__istartswith=first))


def companies_ranked(queryset: QuerySet[Company], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Company]:
    first = query.terms[0] if query.terms else ""
    return _ranked(company_search(queryset, query, workspace=workspace), query, vector=documents.company_vector,
                   text=documents.company_text, exact=Q(domain=query.text) | Q(name__iexact=query.text),
                   word=Q(name__istartswith=f"{first} "),
                   prefix=Q(name__istartswith=first))


def deals_ranked(queryset: QuerySet[Deal], query: SearchQuery, *, workspace: Workspace) -> QuerySet[Deal]:
    first = query.terms[0] if query.terms else ""
    return _ranked(deal_search(queryset, query, workspace=workspace), query, vector=documents.deal_vector, text=documents.deal_text,
                   exact=Q(name__iexact=query.text), word=Q(name__istartswith=f"{first} "),
                   prefix=Q(name__istartswith=first))


@dataclass
class SearchResults:
    query: SearchQuery
    contacts: list[Contact] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    deals: list[Deal] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.contacts) + len(self.companies) + len(self.deals)


def search_everything(*, workspace: Workspace, membership: Membership | None, query: SearchQuery,
                      limit: int = GROUP_LIMIT) -> SearchResults:
    """The best ``limit`` matches of each kind that ``membership`` may see: three queries (plus none for an empty
    query)."""
    results = SearchResults(query=query)
    if query.is_empty:
        return results
    contacts = contact_list(workspace=workspace, membership=membership)
    results.contacts = list(contacts_ranked(contacts, query, workspace=workspace)[:limit])
    companies = company_list(workspace=workspace, membership=membership)
    results.companies = list(companies_ranked(companies, query, workspace=workspace)[:limit])
    deals = deal_list(workspace=workspace, membership=membership)
    results.deals = list(deals_ranked(deals, query, workspace=workspace)[:limit])
    return results
