"""The seed's car store, reduced to what crmify's tests need."""

from django.conf import settings
from django.db import models

from crmify.mixins import LeadStatusMixin


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer")
    phone = models.CharField(max_length=32, blank=True)
    city = models.CharField(max_length=64, blank=True)


class Car(models.Model):
    brand = models.CharField(max_length=127)
    price = models.DecimalField(max_digits=12, decimal_places=2)


class Purchase(LeadStatusMixin, models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="purchases")
    car = models.ForeignKey(Car, on_delete=models.CASCADE, related_name="purchases")
    is_complete = models.BooleanField(default=False)

    def lead_status(self):
        return self.customer, (self.CONVERTED_LEAD if self.is_complete else self.NEW_LEAD)


class Unrelated(models.Model):
    name = models.CharField(max_length=20)
