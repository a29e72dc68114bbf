"""Search matching, ranking and escaping (``kith.search.selectors``) on both databases: PostgreSQL full-text and
trigram, the SQLite fallback."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from kith.contacts.models import Contact
from kith.contacts.selectors import contact_list
from kith.contacts.tests.factories import ContactFactory
from kith.search import selectors
from kith.search.query import parse

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text and trigram")
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite fallback")


def found(personas: Any, text: str, membership: Any = None) -> list[str]:
    results = selectors.search_everything(workspace=personas.acme, membership=membership, query=parse(text))
    return [f"{c.first_name} {c.last_name}" for c in results.contacts]


def test_words_are_prefixes_of_names_email_and_phone(personas, acme_people):
    assert found(personas, "ada lov") == ["Ada Lovelace"]
    assert found(personas, "ADA") == ["Ada Lovelace", "Adam Smith"]
    assert found(personas, "adam@wealth.test") == ["Adam Smith"]
    assert found(personas, "+1 (415) 555-0123") == ["Ada Lovelace"]
    assert found(personas, "4155550") == ["Ada Lovelace"]


def test_a_contact_is_found_through_its_company_and_so_is_the_deal(personas, acme_people):
    results = selectors.search_everything(workspace=personas.acme, membership=None, query=parse("analytical"))
    assert [c.pk for c in results.contacts] == [acme_people["ada"].pk]
    assert [c.pk for c in results.companies] == [acme_people["engines"].pk]
    assert [d.pk for d in results.deals] == [acme_people["deal"].pk]


def test_an_exact_email_ranks_first(personas, acme_people):
    ContactFactory(workspace=personas.acme, first_name="Ada", last_name="Adams", email="ada.adams@x.test")
    assert found(personas, "ada@engines.test")[0] == "Ada Lovelace"


@pytest.mark.parametrize("text", ["%", "_", "\\", "'", "''", "&|!", ":*", "<->", "()", "%_%", "\x00", "   "])
def test_operator_and_wildcard_input_matches_nothing_and_never_fails(personas, acme_people, text):
    assert found(personas, text) == []


@pytest.mark.parametrize("text", ["o'brien", "O'Brien", "o\\'brien", "!o'brien & (late", "conan:* | late"])
def test_quotes_backslashes_and_tsquery_operators_are_plain_text(personas, acme_people, text):
    assert found(personas, text) == ["Conan O'Brien"]


def test_like_wildcards_in_words_are_literal(personas, acme_people):
    assert found(personas, "under_score") == ["Una Score"]
    ContactFactory(workspace=personas.acme, first_name="Fifty", last_name="Off", email="fifty@x.test")
    assert found(personas, "50%") == []


def test_a_restricted_rep_finds_only_his_own_and_mallory_never_finds_acme(personas, acme_people, restricted_bob):
    assert found(personas, "ada", membership=restricted_bob) == ["Adam Smith"]
    assert selectors.search_everything(workspace=personas.acme, membership=restricted_bob,
                                       query=parse("difference")).deals == []
    mallory = selectors.search_everything(workspace=personas.mallory_inc, membership=None, query=parse("ada"))
    assert [c.email for c in mallory.contacts] == ["ada@evil.test"]
    assert mallory.companies == [] and mallory.deals == []


def test_list_search_keeps_the_callers_queryset_and_order(personas, acme_people):
    queryset = contact_list(workspace=personas.acme, membership=None)
    matched = selectors.contact_search(queryset, parse("a"), workspace=personas.acme)
    assert list(matched.values_list("pk", flat=True)) == sorted(matched.values_list("pk", flat=True), reverse=True)


@postgres_only
def test_postgresql_matches_inside_words_and_forgives_a_typo(personas, acme_people):
    assert found(personas, "ovelac") == ["Ada Lovelace"]  # substring, through the trigram index
    assert found(personas, "lovelase") == ["Ada Lovelace"]  # one letter wrong: word similarity
    assert found(personas, "engines.te") == ["Ada Lovelace"]


@postgres_only
def test_postgresql_ranks_a_name_match_above_a_company_match(personas, acme_people):
    ContactFactory(workspace=personas.acme, first_name="Engines", last_name="Fan", email="fan@x.test")
    assert found(personas, "engines") == ["Engines Fan", "Ada Lovelace"]


@postgres_only
def test_postgresql_answers_from_the_gin_indexes(personas, acme_people):
    """The query repeats the indexed expressions exactly (kith.search.documents), so the planner can use them."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    own = Contact.objects.filter(selectors._pg_match(
        selectors.documents.contact_vector(), selectors.documents.contact_text(), parse("lovel")))
    plan = own.explain()
    assert "contact_search_fts_idx" in plan and "contact_search_trgm_idx" in plan


@sqlite_only
def test_sqlite_fallback_matches_words_anywhere_in_names_and_email(personas, acme_people):
    assert found(personas, "ovelac") == ["Ada Lovelace"]
    assert found(personas, "smith adam") == ["Adam Smith"]
    assert found(personas, "lovelase") == []  # no typo tolerance without trigrams


@postgres_only
def test_words_with_digits_are_not_typo_matched(personas, acme_people):
    """"order7" must not find every "order1…9": codes and numbers are meant exactly."""
    ContactFactory(workspace=personas.acme, first_name="Ord", last_name="One", email="order1@x.test")
    assert found(personas, "order7") == []
    assert found(personas, "order1") == ["Ord One"]
