"""The searchable text of contacts, companies and deals, as database expressions.

On PostgreSQL each object type has two GIN indexes, created by contacts migration 0004 and deals migration 0003
from *these very expressions*: a full-text ``tsvector`` (``simple`` configuration: names, e-mails and domains are
not language words, so no stemming and no stop words) and a lower-cased text for ``pg_trgm`` (partial names and
e-mails, typos). The planner uses an expression index only when the query repeats the indexed expression, so the
selectors build their conditions from the same functions. Changing one of them needs a new migration that drops
and recreates the index.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVector
from django.db.models import F, Func, TextField, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Concat, Lower

CONFIG = "simple"


def _words(field: str) -> Func:
    """``dana.lee+news@example.com`` → ``dana lee news example com``: the parts of an e-mail or domain as words, so
    a search for "lee" or "example" finds the address (the ``simple`` parser keeps an address as one lexeme)."""
    return Func(F(field), Value("[^[:alnum:]]+"), Value(" "), Value("g"), function="REGEXP_REPLACE",
                output_field=TextField())


def _text(*fields: str) -> Combinable:
    if len(fields) == 1:
        return Lower(F(fields[0]))
    parts: list[object] = []
    for name in fields:
        parts += [F(name), Value(" ")]
    return Lower(Concat(*parts[:-1], output_field=TextField()))


def contact_vector() -> SearchVector:
    return (SearchVector("first_name", "last_name", config=CONFIG, weight="A")
            + SearchVector("email", _words("email"), config=CONFIG, weight="B")
            + SearchVector("phone", config=CONFIG, weight="C"))


def contact_text() -> Combinable:
    return _text("first_name", "last_name", "email", "phone")


def company_vector() -> SearchVector:
    return (SearchVector("name", config=CONFIG, weight="A")
            + SearchVector("domain", _words("domain"), config=CONFIG, weight="B"))


def company_text() -> Combinable:
    return _text("name", "domain")


def deal_vector() -> SearchVector:
    return SearchVector("name", config=CONFIG, weight="A")


def deal_text() -> Combinable:
    return _text("name")
