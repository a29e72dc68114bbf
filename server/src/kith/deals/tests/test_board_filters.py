"""The Kanban board's filters (owner, expected close date) narrow the cards and the per-column counts and totals
alike, on the page and in the selector."""

import datetime as dt
import re
from decimal import Decimal

import pytest

from kith.deals import selectors, services
from kith.deals.tests.conftest import client_for, stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(personas, sales):
    """Four deals in Qualification and one in Proposal, with different owners, close dates and currencies."""
    qualification, proposal = stage(sales, "Qualification"), stage(sales, "Proposal")

    def deal(name, owner, close, value, currency="EUR", where=qualification):
        return services.deal_create(workspace=personas.acme, actor=personas.alice, pipeline=sales, stage=where,
                                    name=name, owner=owner, expected_close_date=close, value=Decimal(value),
                                    currency=currency)

    return {
        "alice_jan": deal("Alice January", personas.alice, dt.date(2026, 1, 15), "1000"),
        "alice_mar": deal("Alice March", personas.alice, dt.date(2026, 3, 10), "2000"),
        "bob_jan": deal("Bob January", personas.bob, dt.date(2026, 1, 20), "300"),
        "bob_usd": deal("Bob undated", personas.bob, None, "40", currency="USD"),
        "bob_prop": deal("Bob proposal", personas.bob, dt.date(2026, 2, 1), "5000", where=proposal),
    }


def _columns(personas, sales, **filters):
    columns = selectors.deal_board(workspace=personas.acme, membership=None, pipeline=sales, **filters)
    return {c.stage.name: ({d.name for d in c.deals}, c.count, dict(c.totals)) for c in columns if c.count}


def test_the_selector_narrows_cards_counts_and_totals(personas, sales, board):
    assert _columns(personas, sales) == {
        "Qualification": ({"Alice January", "Alice March", "Bob January", "Bob undated"}, 4,
                          {"EUR": Decimal(3300), "USD": Decimal(40)}),
        "Proposal": ({"Bob proposal"}, 1, {"EUR": Decimal(5000)}),
    }
    assert _columns(personas, sales, owner_id=personas.bob.pk) == {
        "Qualification": ({"Bob January", "Bob undated"}, 2, {"EUR": Decimal(300), "USD": Decimal(40)}),
        "Proposal": ({"Bob proposal"}, 1, {"EUR": Decimal(5000)}),
    }
    # A close-date window leaves out undated deals and those outside it, at both ends inclusive.
    assert _columns(personas, sales, close_from=dt.date(2026, 1, 15), close_to=dt.date(2026, 2, 1)) == {
        "Qualification": ({"Alice January", "Bob January"}, 2, {"EUR": Decimal(1300)}),
        "Proposal": ({"Bob proposal"}, 1, {"EUR": Decimal(5000)}),
    }
    assert _columns(personas, sales, owner_id=personas.alice.pk, close_from=dt.date(2026, 2, 1)) == {
        "Qualification": ({"Alice March"}, 1, {"EUR": Decimal(2000)}),
    }
    assert _columns(personas, sales, close_to=dt.date(2025, 12, 31)) == {}


def _page_columns(html):
    """Stage name → (count shown in the header, totals text, card names) as the page renders them."""
    found = {}
    for section in re.findall(r'<section class="kith-board-column .*?</section>', html, flags=re.DOTALL):
        name = re.search(r'data-stage-name="([^"]+)"', section).group(1)
        count = int(re.search(r'<span class="kith-count">(\d+)</span>', section).group(1))
        total = re.sub(r"<[^>]+>", " ", re.search(r'kith-board-column-total">(.*?)</div>', section).group(1))
        cards = set(re.findall(r'data-deal-name="([^"]+)"', section))
        found[name] = (count, " ".join(total.split()), cards)
    return found


def test_the_page_filters_by_owner_and_close_date(personas, sales, board):
    client = client_for(personas.alice)

    everything = _page_columns(client.get("/deals/").content.decode())
    bobs = _page_columns(client.get(f"/deals/?owner={personas.bob.pk}").content.decode())
    january = _page_columns(client.get("/deals/?close_from=2026-01-01&close_to=2026-01-31").content.decode())

    assert everything["Qualification"][0] == 4 and everything["Proposal"][0] == 1
    assert bobs["Qualification"][0] == 2 and bobs["Proposal"][0] == 1
    assert "300 EUR" in bobs["Qualification"][1] and "40 USD" in bobs["Qualification"][1]
    assert "3,300" not in bobs["Qualification"][1]
    assert january["Qualification"][:2] == (2, "1,300 EUR · 10%") and january["Proposal"][0] == 0
    assert everything["Qualification"][2] == {"Alice January", "Alice March", "Bob January", "Bob undated"}
    assert bobs["Qualification"][2] == {"Bob January", "Bob undated"} and bobs["Proposal"][2] == {"Bob proposal"}
    assert january["Qualification"][2] == {"Alice January", "Bob January"} and january["Proposal"][2] == set()
