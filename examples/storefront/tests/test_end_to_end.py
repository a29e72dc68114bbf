"""The storefront against a real Kith: a customer's journey through the store's pages, and what arrives in Kith,
its mail sink and the SMS sink — also across a Kith outage in the middle of a purchase.

Everything runs as separate processes, as ``make example`` starts them (``devstack.Stack``); the test talks to
the store like a browser and to Kith through its REST API.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections import Counter

import pytest

from devstack import Stack
from smssink import sms_read
from tests.conftest import ABANDONED_AFTER_SECONDS
from tests.shop import Browser, Kith, eventually, mail_html, mail_text, mails

pytestmark = pytest.mark.e2e


def sms_to(stack: Stack, phone: str) -> list[dict[str, str]]:
    return [m for m in sms_read(stack.sms_dir) if m["to"] == phone] if stack.sms_dir.exists() else []


def mails_to(stack: Stack, address: str) -> list[tuple[str, str, str]]:
    """(subject, text part, HTML part) of each message the mail sink holds for ``address``."""
    return [(m["Subject"], mail_text(m), mail_html(m)) for m in mails(stack.mail_dir) if address in m["To"]]


def store_db(stack: Stack, sql: str, *params: object) -> list[sqlite3.Row]:
    """Read the store's database (read-only), as an operator would look into crmify's outbox."""
    db = sqlite3.connect(f"file:{stack.store_data / 'storefront.sqlite3'}?mode=ro", uri=True)
    try:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def outbox(stack: Stack) -> list[sqlite3.Row]:
    return store_db(stack, "SELECT id, kind, status, attempts, last_error, payload FROM crmify_outboxentry "
                           "ORDER BY id")


def external_id(stack: Stack, email: str) -> str:
    """The customer's id in the store: crmify's external id of the contact in Kith."""
    rows = store_db(stack, "SELECT c.id FROM cars_customer c JOIN auth_user u ON u.id = c.user_id "
                           "WHERE u.email = ?", email)
    return str(rows[0]["id"])


def sign_up(browser: Browser, *, first: str, last: str, email: str, phone: str) -> None:
    browser.submit("/signup/", first_name=first, last_name=last, email=email, phone=phone, sms_opt_in="on",
                   password="a-long-pass-1")


def buy(browser: Browser, car_id: int) -> int:
    response = browser.submit(f"/cars/{car_id}/", f"/cars/{car_id}/buy/")
    match = re.search(r"/purchases/(\d+)/checkout/", str(response.url))
    assert match, response.url
    return int(match.group(1))


def test_customer_journey_reaches_kith_and_survives_a_kith_outage(stack: Stack) -> None:
    kith, ana = Kith(stack.kith_url, stack.api_key), Browser(stack.store_url)
    phone = "+14155550101"

    # Sign-up: the contact, its lead status and the event reach Kith; Kith's workflows welcome her and record her
    # SMS consent.
    sign_up(ana, first="Ana", last="Lima-Ørsted", email="ana@example.com", phone=phone)
    ana_id = external_id(stack, "ana@example.com")
    contact = eventually(lambda: kith.contact(ana_id), what="Ana's contact in Kith")
    assert (contact["first_name"], contact["last_name"], contact["email"], contact["phone"]) == (
        "Ana", "Lima-Ørsted", "ana@example.com", phone)
    assert contact["lead_status"] == "not_contacted"
    eventually(lambda: [e for e in kith.events(contact["id"]) if e["name"] == "Signed Up"], what="Signed Up")
    subject, _, html = eventually(lambda: mails_to(stack, "ana@example.com"), what="the welcome e-mail")[0]
    assert subject == "Welcome to Kars, Ana!"
    eventually(lambda: kith.contact(ana_id)["sms_consent"] == "opted_in", what="SMS consent")

    # She follows the welcome e-mail's link (through Kith's click tracking) back to the store: Contacted.
    link = re.search(r'<a\s+href="([^"]+)"\s*>Take a look', html)
    assert link and link.group(1).startswith(f"{stack.kith_url}/t/"), html  # Kith's signed click redirect
    ana.submit("/", "/logout/")  # she reads her mail later, logged out: the store asks her to log in first
    landed = ana.client.get(link.group(1))
    assert str(landed.url).startswith(f"{stack.store_url}/login/?next=/welcome/"), landed.url
    ana.submit(str(landed.url).removeprefix(stack.store_url), username="ana@example.com", password="a-long-pass-1",
               next="/welcome/")
    eventually(lambda: kith.contact(ana_id)["lead_status"] == "contacted", what="lead status Contacted")

    # A declined card abandons the purchase: a deal in the abandoned stage, and after the workflow's wait one SMS.
    first = buy(ana, 2)  # Volvo 240 Estate, Navy
    ana.submit(f"/purchases/{first}/checkout/", card_number="4000 0000 0000 0002", expect=400)
    deal = eventually(lambda: [d for d in kith.deals(contact["id"]) if d["name"].startswith(f"Purchase #{first}:")
                               and d["stage_name"] == "Checkout abandoned"], what="the abandoned deal")[0]
    assert deal["value"] == "7450.00" and deal["status"] == "open"
    sms = eventually(lambda: sms_to(stack, phone), timeout=ABANDONED_AFTER_SECONDS + 60, what="the SMS")
    assert len(sms) == 1 and "Volvo 240 Estate" in sms[0]["body"]

    # Kith goes down. The store keeps working: she buys another car and pays.
    stack.stop_kith()
    second = buy(ana, 1)  # Saab 900 Turbo, Red
    paid = ana.submit(f"/purchases/{second}/checkout/", card_number="4242 4242 4242 4242")
    assert "Thank you! The Saab 900 Turbo (Red) is yours." in paid.text
    assert 'data-lead-status="Converted"' in paid.text
    eventually(lambda: [e for e in outbox(stack) if e["status"] == "pending" and e["attempts"] >= 2
                        and e["last_error"]], what="the worker failing against the stopped Kith")
    time.sleep(3)  # a while longer: more failed attempts, nothing may be dropped meanwhile
    assert not [e for e in outbox(stack) if e["status"] == "dead"]

    # Kith comes back: the outbox drains and everything arrives, once.
    started = time.monotonic()
    stack.start_kith()
    healthy = time.monotonic()
    eventually(lambda: all(e["status"] == "done" for e in outbox(stack)), timeout=120, what="the outbox to drain")
    print(f"Kith restart to healthy: {healthy - started:.1f} s; healthy to outbox drained: "
          f"{time.monotonic() - healthy:.1f} s ({len(outbox(stack))} entries in all)")
    sent = Counter(json.loads(e["payload"])["event"] for e in outbox(stack) if e["kind"] == "event")
    received = eventually(lambda: _counted(kith, contact["id"], sent), what="every event in Kith")
    assert received == sent == Counter({"Signed Up": 1, "Purchase Started": 2, "Purchase Abandoned": 1,
                                        "Purchase Completed": 1})
    won = eventually(lambda: [d for d in kith.deals(contact["id"]) if d["name"].startswith(f"Purchase #{second}:")
                              and d["status"] == "won"], what="the won deal")[0]
    assert (won["stage_name"], won["value"]) == ("Bought", "9999.00")
    assert kith.contact(ana_id)["lead_status"] == "converted"
    thanks = eventually(lambda: [m for m in mails_to(stack, "ana@example.com") if m[0].startswith("Thank you")],
                        what="the thank-you e-mail")
    assert thanks[0][0] == "Thank you for buying the Saab 900 Turbo (Red)!"
    assert "Tell your friends" in thanks[0][1] and "twitter.com/intent/tweet" in thanks[0][1]  # the share request
    assert len(sms_to(stack, phone)) == 1  # the completed purchase was never chased


def _counted(kith: Kith, contact_id: int, expected: Counter[str]) -> Counter[str] | None:
    received = Counter(e["name"] for e in kith.events(contact_id) if e.get("type") == "track")
    return received if received == expected else None


def test_a_purchase_completed_in_time_gets_no_sms(stack: Stack) -> None:
    kith, ben = Kith(stack.kith_url, stack.api_key), Browser(stack.store_url)
    phone = "+14155550102"
    sign_up(ben, first="Ben", last="Okafor", email="ben@example.com", phone=phone)

    purchase = buy(ben, 3)
    ben.submit(f"/purchases/{purchase}/checkout/", f"/purchases/{purchase}/leave/")
    ben.submit(f"/purchases/{purchase}/checkout/", card_number="4242 4242 4242 4242")

    eventually(lambda: [m for m in mails_to(stack, "ben@example.com") if m[0].startswith("Thank you")],
               what="Ben's thank-you e-mail")
    time.sleep(ABANDONED_AFTER_SECONDS + 20)  # past the wait, and past the workflow clock's 15 s sweep
    assert sms_to(stack, phone) == []
    contact = kith.contact(external_id(stack, "ben@example.com"))
    assert contact is not None and contact["lead_status"] == "converted"



def test_configuring_kith_again_changes_nothing(stack: Stack) -> None:
    kith = Kith(stack.kith_url, stack.api_key)
    before = {w["name"]: (w["id"], w["version"], w["status"]) for w in kith.get("/api/v1/workflows/")["results"]}
    templates = json.loads(stack.bootstrap_file.read_text())["templates"]

    assert stack.bootstrap_kith()["templates"] == templates  # same workspace, same templates (and a new key)
    stack.configure_kith(abandoned_after_seconds=ABANDONED_AFTER_SECONDS)

    after = {w["name"]: (w["id"], w["version"], w["status"]) for w in kith.get("/api/v1/workflows/")["results"]}
    assert after == before and len(after) == 4
    assert {status for _, _, status in after.values()} == {"active"}
    pipelines = [p for p in kith.get("/api/v1/pipelines/")["results"] if p["name"] == "Car sales"]
    assert len(pipelines) == 1
    assert [s["name"] for s in pipelines[0]["stages"]] == ["Checkout started", "Checkout abandoned", "Bought",
                                                             "Lost"]
