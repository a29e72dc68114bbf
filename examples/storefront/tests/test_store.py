"""The store's own behaviour, in-process with crmify's in-memory test backend: what it tells the CRM (and only
that), its pages' answers to bad input, and that a CRM outage never reaches a customer."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crmify import delivery
from crmify.backends.test import TestBackend
from crmify.models import OutboxEntry
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from cars.models import Car, Customer, Purchase

STORE_CODE = Path(__file__).resolve().parent.parent / "cars"
PASSWORD = "a-long-pass-1"


@pytest.fixture(autouse=True)
def crm(settings: Any) -> Iterator[type[TestBackend]]:
    settings.CRMIFY = {**django_settings.CRMIFY, "BACKEND": "crmify.backends.test.TestBackend",
                       "DELIVERY": "manual"}
    TestBackend.reset()
    yield TestBackend
    TestBackend.reset()


def sign_up(client: Client, **fields: Any) -> Any:
    data = {"first_name": "Zoë", "last_name": "Ødegård", "email": "zoe@example.com", "phone": "+14155550123",
            "sms_opt_in": "on", "password": PASSWORD} | fields
    return client.post("/signup/", data)


def events() -> list[tuple[str, dict[str, Any]]]:
    return [(e["event"], e["properties"]) for e in TestBackend.events]


def the_lead() -> dict[str, Any]:
    (lead,) = TestBackend.leads.values()
    return lead


@pytest.mark.django_db
def test_sign_up_tells_the_crm_and_sends_nothing_itself(client: Client) -> None:
    response = sign_up(client)
    assert response.status_code == 302
    customer = Customer.objects.get(user__email="zoe@example.com")
    assert customer.sms_opt_in and customer.phone == "+14155550123"

    delivery.drain()
    lead = the_lead()
    assert (lead["first_name"], lead["last_name"], lead["email"], lead["phone"]) == (
        "Zoë", "Ødegård", "zoe@example.com", "+14155550123")
    assert lead["external_status"] == "NotContacted"
    assert lead["anchor_key"] == str(customer.pk)
    assert events() == [("Signed Up", {"sms_opt_in": True})]
    assert mail.outbox == []


@pytest.mark.django_db
def test_following_the_welcome_link_makes_the_lead_contacted(client: Client) -> None:
    sign_up(client)
    delivery.drain()
    client.get("/welcome/")
    client.get("/welcome/")  # twice: still one change
    delivery.drain()
    assert the_lead()["external_status"] == "Contacted"
    assert Customer.objects.get().welcomed_at is not None


@pytest.mark.django_db
def test_a_declined_card_abandons_the_purchase_and_a_paid_one_converts_the_lead(client: Client) -> None:
    sign_up(client)
    car = Car.objects.get(brand="Saab")
    response = client.post(f"/cars/{car.pk}/buy/")
    purchase = Purchase.objects.get()
    assert response.url == f"/purchases/{purchase.pk}/checkout/"

    declined = client.post(f"/purchases/{purchase.pk}/checkout/", {"card_number": "4000 0000 0000 0002"})
    assert declined.status_code == 400 and b"declined" in declined.content
    paid = client.post(f"/purchases/{purchase.pk}/checkout/", {"card_number": "4242 4242 4242 4242"})
    assert paid.status_code == 302

    delivery.drain()
    properties = {"purchase_id": purchase.pk, "car": "Saab 900 Turbo (Red)", "brand": "Saab", "model": "900 Turbo",
                  "color": "Red", "total": 9999.0, "currency": "USD"}
    assert events() == [
        ("Signed Up", {"sms_opt_in": True}),
        ("Purchase Started", properties),
        ("Purchase Abandoned", properties | {"reason": "card_declined"}),
        ("Purchase Completed", properties),
    ]
    assert the_lead()["external_status"] == "Converted"
    purchase.refresh_from_db()
    assert purchase.is_complete and purchase.state == "completed"
    assert mail.outbox == []


@pytest.mark.django_db
def test_leaving_the_checkout_is_one_abandonment(client: Client) -> None:
    sign_up(client)
    client.post("/cars/1/buy/")
    purchase = Purchase.objects.get()
    client.post(f"/purchases/{purchase.pk}/leave/")
    client.post(f"/purchases/{purchase.pk}/leave/")
    delivery.drain()
    assert [name for name, _ in events()].count("Purchase Abandoned") == 1
    assert events()[-1][1]["reason"] == "left_checkout"


@pytest.mark.django_db
def test_a_crm_outage_never_reaches_the_customer_and_loses_nothing(client: Client) -> None:
    TestBackend.outage = True
    assert sign_up(client).status_code == 302
    client.post("/cars/2/buy/")
    purchase = Purchase.objects.get()
    assert client.post(f"/purchases/{purchase.pk}/checkout/", {"card_number": "4242424242424242"}).status_code == 302
    assert client.get("/account/").status_code == 200

    result = delivery.drain()
    assert result.delivered == 0 and result.retried > 0
    assert TestBackend.leads == {} and TestBackend.events == []

    TestBackend.outage = False
    OutboxEntry.objects.update(available_at=OutboxEntry._meta.get_field("available_at").default())
    delivery.drain()
    assert [name for name, _ in events()] == ["Signed Up", "Purchase Started", "Purchase Completed"]
    assert the_lead()["external_status"] == "Converted"
    assert not OutboxEntry.objects.exclude(status=OutboxEntry.Status.DONE).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"phone": "12"}, "phone", "international format"),
    ({"phone": "", "sms_opt_in": "on"}, "phone", "Give a mobile number"),
    ({"email": "not-an-email"}, "email", "valid email"),
    ({"password": "short"}, "password", "at least 8"),
    ({"first_name": ""}, "first_name", "required"),
])
def test_sign_up_answers_bad_input_with_field_errors(client: Client, fields: dict[str, str], field: str,
                                                      message: str) -> None:
    response = sign_up(client, **fields)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Customer.objects.exists() and OutboxEntry.objects.count() == 0


@pytest.mark.django_db
def test_sign_up_refuses_a_taken_email_whatever_its_case(client: Client) -> None:
    sign_up(client)
    other = Client()
    response = sign_up(other, email="ZOE@Example.com")
    assert response.status_code == 400 and "exists" in str(response.context["form"].errors["email"])


@pytest.mark.django_db
def test_checkout_answers_a_bad_card_number_with_a_field_error(client: Client) -> None:
    sign_up(client)
    client.post("/cars/1/buy/")
    purchase = Purchase.objects.get()
    for bad in ("1234", "4242 4242 4242 4241", "abcd efgh ijkl mnop", ""):
        response = client.post(f"/purchases/{purchase.pk}/checkout/", {"card_number": bad})
        assert response.status_code == 400, bad
    purchase.refresh_from_db()
    assert not purchase.is_complete and purchase.abandoned_at is None


@pytest.mark.django_db
def test_a_customer_cannot_see_or_touch_another_customers_purchase(client: Client) -> None:
    sign_up(client)
    client.post("/cars/1/buy/")
    purchase = Purchase.objects.get()
    mallory = Client()
    sign_up(mallory, email="mallory@example.com")
    assert mallory.get(f"/purchases/{purchase.pk}/checkout/").status_code == 404
    assert mallory.post(f"/purchases/{purchase.pk}/checkout/", {"card_number": "4242424242424242"}).status_code == 404
    assert mallory.post(f"/purchases/{purchase.pk}/leave/").status_code == 404
    purchase.refresh_from_db()
    assert not purchase.is_complete and purchase.abandoned_at is None


@pytest.mark.django_db
def test_pages_for_anonymous_visitors_and_unknown_ids(client: Client) -> None:
    assert client.get("/").status_code == 200
    assert client.get("/cars/1/").status_code == 200
    assert client.get("/cars/999999/").status_code == 404
    assert client.post("/cars/1/buy/").status_code == 302  # to the login page
    assert client.get("/account/").status_code == 302
    assert client.get("/cars/1/buy/").status_code == 405  # buying is a POST


@pytest.mark.django_db
def test_a_staff_account_without_a_customer_gets_a_page_not_an_error(client: Client,
                                                                     django_user_model: Any) -> None:
    staff = django_user_model.objects.create_user("staff@example.com", "staff@example.com", PASSWORD)
    client.force_login(staff)
    assert client.get("/account/").status_code == 403
    assert client.post("/cars/1/buy/").status_code == 403


# What the store must not contain: the seed's point is that messaging and its timing belong to the CRM.
FORBIDDEN_IMPORTS = re.compile(r"^(django\.core\.mail|smtplib|email|twilio|celery|django_cron|sched|threading"
                               r"|anymail)(\.|$)")


def test_the_store_code_has_no_email_sms_or_cron_logic() -> None:
    offenders = []
    for path in STORE_CODE.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {name}" for name in names if FORBIDDEN_IMPORTS.match(name)]
            if isinstance(node, ast.Name) and node.id in ("send_mail", "EmailMessage", "sleep"):
                offenders.append(f"{path.name}: {node.id}")
    assert offenders == []
