"""The seed's quick start: a custom lead model, a mapper walking a relation, a status model.

Runs in a host project whose LEAD_MODEL *is* ``hostapp.Customer`` from the first migrate
(``tests.settings_custom_lead``), started by ``tests/test_custom_lead_model.py`` — in the default test project the
lead's foreign key points at ``auth.User``, where customers' ids mean nothing."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User

from crmify import delivery
from crmify.models import Lead
from tests.hostapp.models import Car, Customer, Purchase

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def custom_settings(settings):
    assert settings.CRMIFY["LEAD_MODEL"] == "tests.hostapp.models.Customer"
    assert Lead._meta.get_field("anchor").related_model is Customer


def test_status_model_converts_the_lead(custom_settings, test_crm):
    user = User.objects.create(username="kim", first_name="Kim", email="kim@example.com")
    customer = Customer.objects.create(user=user, phone="+4915112345678", city="Köln")
    car = Car.objects.create(brand="Saab", price=Decimal("9999.00"))
    purchase = Purchase.objects.create(customer=customer, car=car)
    purchase.is_complete = True
    purchase.save()
    delivery.drain()
    (record,) = test_crm.leads.values()
    assert record["email"] == "kim@example.com" and record["city"] == "Köln"
    assert record["external_status"] == "Converted"


def test_related_model_change_resyncs(custom_settings, test_crm):
    user = User.objects.create(username="lee", email="lee@example.com")
    Customer.objects.create(user=user)
    delivery.drain()
    user.email = "lee@new.example.com"
    user.save()
    delivery.drain()
    assert [r["email"] for r in test_crm.leads.values()] == ["lee@new.example.com"]
    assert Lead.objects.count() == 1
