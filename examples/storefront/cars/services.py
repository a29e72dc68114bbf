"""The store's writes. Each tells the CRM what happened through crmify and nothing more: no e-mail, no SMS, no
timers. crmify writes the news to its outbox in the same transaction (every request is atomic), and
``manage.py crmify_worker`` delivers it to Kith, which owns the messages and their timing."""

from __future__ import annotations

import crmify
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from cars.models import Car, Customer, Purchase

# The dummy payment provider declines this card (and accepts any other valid card number), so the abandoned
# purchase path can be tried by hand.
DECLINED_CARD = "4000000000000002"


class PaymentDeclined(Exception):
    pass


@transaction.atomic
def customer_sign_up(*, email: str, password: str, first_name: str, last_name: str, phone: str = "",
                     sms_opt_in: bool = False) -> Customer:
    user = User.objects.create_user(username=email, email=email, password=password, first_name=first_name,
                                    last_name=last_name)
    customer = Customer.objects.create(user=user, phone=phone, sms_opt_in=sms_opt_in and bool(phone))
    crmify.track(customer, "Signed Up", {"sms_opt_in": customer.sms_opt_in})
    return customer


@transaction.atomic
def customer_welcomed(*, customer: Customer) -> None:
    """The customer followed the welcome e-mail's link: saving the status model moves the lead to Contacted."""
    if customer.welcomed_at is None:
        customer.welcomed_at = timezone.now()
        customer.save(update_fields=["welcomed_at"])


@transaction.atomic
def purchase_start(*, customer: Customer, car: Car) -> Purchase:
    purchase = Purchase.objects.create(customer=customer, car=car, total=car.price)
    crmify.track(customer, "Purchase Started", purchase.crm_properties())
    return purchase


def charge(*, amount: object, card_number: str) -> None:
    """Dummy payment: raises ``PaymentDeclined`` for the declined test card."""
    if card_number == DECLINED_CARD:
        raise PaymentDeclined("The card was declined.")


@transaction.atomic
def purchase_checkout(*, purchase: Purchase, card_number: str) -> bool:
    """Charge the card. Completed: the lead converts (the seed's Basic Sales Funnel). Declined: the purchase is
    abandoned for now (Kith's workflow decides whether and when to text the customer)."""
    if purchase.is_complete:
        return True
    try:
        charge(amount=purchase.total, card_number=card_number)
    except PaymentDeclined:
        _abandon(purchase, reason="card_declined")
        return False
    purchase.is_complete = True
    purchase.completed_at = timezone.now()
    purchase.save(update_fields=["is_complete", "completed_at"])
    crmify.track(purchase.customer, "Purchase Completed", purchase.crm_properties())
    crmify.convert(purchase.customer)
    return True


@transaction.atomic
def purchase_abandon(*, purchase: Purchase) -> None:
    """The customer left the checkout."""
    if not purchase.is_complete and purchase.abandoned_at is None:
        _abandon(purchase, reason="left_checkout")


def _abandon(purchase: Purchase, *, reason: str) -> None:
    purchase.abandoned_at = timezone.now()
    purchase.save(update_fields=["abandoned_at"])
    crmify.track(purchase.customer, "Purchase Abandoned", {**purchase.crm_properties(), "reason": reason})
