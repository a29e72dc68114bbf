"""Likely duplicates (``kith.contacts.duplicates``) and dismissing them, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from kith.contacts.duplicates import canonical_email, duplicate_pairs
from kith.contacts.services import duplicate_dismiss
from kith.contacts.tests.factories import CompanyFactory, ContactFactory

pytestmark = pytest.mark.django_db


def _pairs(personas: Any, **kwargs: Any) -> dict[tuple[int, int], list[str]]:
    return {(p.first.pk, p.second.pk): p.reasons
            for p in duplicate_pairs(workspace=personas.acme, membership=kwargs.pop("membership", None), **kwargs)}


@pytest.mark.parametrize(("email", "canonical"), [
    ("D.Lee+news@Gmail.com", "dlee@gmail.com"),
    ("d.lee@googlemail.com", "dlee@gmail.com"),
    ("dana.lee+crm@acme.test", "dana.lee@acme.test"),
    ("+weird@acme.test", "+weird@acme.test"),
])
def test_canonical_email(email, canonical):
    assert canonical_email(email) == canonical


def test_pairs_by_phone_email_variant_and_name_at_the_same_company(personas):
    acme = personas.acme
    globex = CompanyFactory(workspace=acme, name="Globex")
    a = ContactFactory(workspace=acme, first_name="Ann", last_name="Ode", email="ann@one.test", phone="+14155550100")
    b = ContactFactory(workspace=acme, first_name="Bea", last_name="Xu", email="bea@two.test", phone="+14155550100")
    c = ContactFactory(workspace=acme, first_name="Cy", last_name="Ro", email="cy.ro@gmail.com")
    d = ContactFactory(workspace=acme, first_name="Zed", last_name="Q", email="cyro+shop@gmail.com")
    e = ContactFactory(workspace=acme, first_name="Dana", last_name="Lee", email="dana@x.test", company=globex)
    f = ContactFactory(workspace=acme, first_name="dana", last_name="LEE", email="", company=globex)
    ContactFactory(workspace=acme, first_name="Dana", last_name="Lee", email="other@y.test")  # no company
    ContactFactory(workspace=personas.mallory_inc, first_name="Ann", email="ann@evil.test", phone="+14155550100")

    pairs = _pairs(personas)

    assert pairs[(a.pk, b.pk)] == ["phone"]
    assert pairs[(c.pk, d.pk)] == ["email"]
    assert pairs[(e.pk, f.pk)] == ["name_company"]
    assert len(pairs) == 3
    assert _pairs(personas, contact=e) == {(e.pk, f.pk): ["name_company"]}
    assert _pairs(personas, contact=a) == {(a.pk, b.pk): ["phone"]}


def test_a_dismissed_pair_is_not_offered_again(personas):
    a = ContactFactory(workspace=personas.acme, phone="+14155550100")
    b = ContactFactory(workspace=personas.acme, phone="+14155550100")
    duplicate_dismiss(first=b, second=a, actor=personas.alice)
    duplicate_dismiss(first=a, second=b, actor=personas.alice)  # idempotent, either order
    assert _pairs(personas) == {}


def test_a_restricted_rep_only_sees_pairs_of_his_own_contacts(personas, restricted_bob):
    mine = ContactFactory(workspace=personas.acme, phone="+14155550100", owner=personas.bob)
    also_mine = ContactFactory(workspace=personas.acme, phone="+14155550100", owner=personas.bob)
    ContactFactory(workspace=personas.acme, phone="+14155550100", owner=personas.alice)
    assert set(_pairs(personas, membership=restricted_bob)) == {(mine.pk, also_mine.pk)}
    assert len(_pairs(personas)) == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity is PostgreSQL's")
def test_similar_names_at_the_same_company_or_domain_pair_on_postgresql(personas):
    acme = personas.acme
    initech = CompanyFactory(workspace=acme, name="Initech")
    jon = ContactFactory(workspace=acme, first_name="Jon", last_name="Smith", email="jon@a.test", company=initech)
    john = ContactFactory(workspace=acme, first_name="John", last_name="Smith", email="js@b.test", company=initech)
    kat = ContactFactory(workspace=acme, first_name="Katherine", last_name="Moore", email="kat@bigcorp.test")
    kath = ContactFactory(workspace=acme, first_name="Katharine", last_name="Moore", email="k.moore@bigcorp.test")
    ContactFactory(workspace=acme, first_name="Katherine", last_name="Moore", email="km@gmail.com")
    ContactFactory(workspace=acme, first_name="Jane", last_name="Doe", email="jd@a.test", company=initech)

    pairs = _pairs(personas)

    assert pairs[(jon.pk, john.pk)] == ["similar_name"]
    assert pairs[(kat.pk, kath.pk)] == ["similar_name"]
    assert len(pairs) == 2
