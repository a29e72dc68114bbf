from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class SignUpForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    email = forms.EmailField(max_length=150, label="E-mail")
    phone = forms.CharField(max_length=20, required=False, label="Mobile phone",
                            help_text="International format, such as +14155550123. Optional.")
    sms_opt_in = forms.BooleanField(required=False, label="Text me about my orders")
    password = forms.CharField(widget=forms.PasswordInput, min_length=8, max_length=128)

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if User.objects.filter(username__iexact=email).exists():
            raise forms.ValidationError("A customer with this e-mail exists; log in instead.")
        return email

    def clean_phone(self) -> str:
        phone = re.sub(r"[\s().-]", "", self.cleaned_data.get("phone", ""))
        if phone and not E164.match(phone):
            raise forms.ValidationError("Give the number in international format, such as +14155550123.")
        return phone

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("sms_opt_in") and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", "Give a mobile number to receive texts.")
        password = data.get("password")
        if password:
            user = User(username=data.get("email", ""), email=data.get("email", ""),
                        first_name=data.get("first_name", ""), last_name=data.get("last_name", ""))
            try:
                password_validation.validate_password(password, user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return data


class LoginForm(AuthenticationForm):
    username = forms.CharField(label="E-mail", max_length=150)

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


def luhn_valid(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class CheckoutForm(forms.Form):
    card_number = forms.CharField(max_length=30, label="Card number",
                                  help_text="Demo: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined.")

    def clean_card_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["card_number"])
        if not number.isdigit() or not 12 <= len(number) <= 19 or not luhn_valid(number):
            raise forms.ValidationError("This is not a valid card number.")
        return number
