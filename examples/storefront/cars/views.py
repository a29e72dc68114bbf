"""Thin views: validate, call a service, render. No CRM, e-mail or SMS logic here either."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cars import services
from cars.forms import CheckoutForm, SignUpForm
from cars.models import Car, Customer, Purchase


def customer_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in as a customer (a staff account without a customer record gets a clear page, not an error)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        customer = Customer.objects.filter(user=request.user).first()
        if customer is None:
            return render(request, "cars/not_a_customer.html", status=403)
        return view(request, customer, *args, **kwargs)

    return wrapped


def catalogue(request: HttpRequest) -> HttpResponse:
    return render(request, "cars/catalogue.html", {"cars": Car.objects.all()})


def car_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "cars/car_detail.html", {"car": get_object_or_404(Car, pk=pk)})


@require_POST
@customer_required
def car_buy(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    purchase = services.purchase_start(customer=customer, car=get_object_or_404(Car, pk=pk))
    return redirect("checkout", pk=purchase.pk)


@customer_required
def checkout(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    purchase = get_object_or_404(Purchase.objects.select_related("car"), pk=pk, customer=customer)
    if purchase.is_complete:
        return redirect("account")
    form = CheckoutForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.purchase_checkout(purchase=purchase, card_number=form.cleaned_data["card_number"]):
            messages.success(request, f"Thank you! The {purchase.car} is yours.")
            return redirect("account")
        form.add_error("card_number", "Your card was declined. Try another card.")
    return render(request, "cars/checkout.html", {"purchase": purchase, "form": form},
                  status=400 if form.errors else 200)


@require_POST
@customer_required
def checkout_leave(request: HttpRequest, customer: Customer, pk: int) -> HttpResponse:
    services.purchase_abandon(purchase=get_object_or_404(Purchase, pk=pk, customer=customer))
    messages.info(request, "Your purchase is saved; come back to it any time from your account.")
    return redirect("catalogue")


@customer_required
def account(request: HttpRequest, customer: Customer) -> HttpResponse:
    purchases = customer.purchases.select_related("car")
    return render(request, "cars/account.html", {"customer": customer, "purchases": purchases,
                                                 "status": customer.lead_status()[1]})


@customer_required
def welcome(request: HttpRequest, customer: Customer) -> HttpResponse:
    """Where the welcome e-mail's link leads (through the login page if need be)."""
    services.customer_welcomed(customer=customer)
    messages.success(request, f"Welcome, {request.user.first_name}! Have a look around.")
    return redirect("catalogue")


def sign_up(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("account")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        customer = services.customer_sign_up(
            email=data["email"], password=data["password"], first_name=data["first_name"],
            last_name=data["last_name"], phone=data["phone"], sms_opt_in=data["sms_opt_in"])
        login(request, customer.user)
        messages.success(request, "Welcome to Kars! Your account is ready.")
        return redirect("catalogue")
    return render(request, "cars/signup.html", {"form": form}, status=400 if form.errors else 200)
