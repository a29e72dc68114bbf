"""The car store of the seed: customers, cars, purchases. Facts only; the writes live in ``cars.services``.

Nothing here sends e-mail or SMS or schedules anything: the customer is crmify's lead model and decides its own
lead status (``LeadStatusMixin``); what the CRM does with that is configured in Kith.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crmify.mixins import LeadStatusMixin
from django.conf import settings
from django.db import models

# The status between new and converted (the seed README's "Basic Lead Management"): the customer followed the
# link in the welcome e-mail.
CONTACTED = "Contacted"


class Customer(LeadStatusMixin, models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    # E.164 (+14155550123), checked by the sign-up form; the CRM texts this number.
    phone = models.CharField(max_length=20, blank=True)
    # The customer agreed at sign-up to text messages about their orders (Kith only texts opted-in contacts).
    sms_opt_in = models.BooleanField(default=False)
    # When the customer followed the welcome e-mail's link back to the store: NotContacted → Contacted.
    welcomed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.email

    def lead_status(self) -> tuple[Any, str]:
        if self.purchases.filter(is_complete=True).exists():
            return self, self.CONVERTED_LEAD
        if self.welcomed_at is not None:
            return self, CONTACTED
        return self, self.NEW_LEAD


class Car(models.Model):
    brand = models.CharField(max_length=127)
    model = models.CharField(max_length=127)
    color = models.CharField(max_length=63)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ("brand", "model", "id")

    def __str__(self) -> str:
        return f"{self.brand} {self.model} ({self.color})"


class Purchase(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases")
    car = models.ForeignKey(Car, on_delete=models.PROTECT, related_name="purchases")
    # The price when the customer pressed "Buy": what the deal is worth even if the catalogue changes.
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal(0))
    is_complete = models.BooleanField(default=False)
    # The customer left the checkout or the card was declined; a later successful checkout still completes it.
    abandoned_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_dt = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created_dt", "-id")

    def __str__(self) -> str:
        return f"purchase #{self.pk} of {self.car}"

    @property
    def state(self) -> str:
        if self.is_complete:
            return "completed"
        return "abandoned" if self.abandoned_at else "in checkout"

    def crm_properties(self) -> dict[str, Any]:
        """What the CRM is told about this purchase (event properties; Kith templates read them as event.*)."""
        return {"purchase_id": self.pk, "car": str(self.car), "brand": self.car.brand, "model": self.car.model,
                "color": self.car.color, "total": float(self.total), "currency": "USD"}
