"""The delivery section of the workspace settings: which providers send this workspace's messages.

Loaded into the settings page over HTMX (and usable as a page of its own without JavaScript); owners and admins
only, like the rest of the workspace settings."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from kith.core.errors import KithError
from kith.messaging import selectors, services
from kith.messaging.forms import DeliverySettingsForm
from kith.web.forms import add_domain_error
from kith.web.views.base import MemberRequest, admin_required, posted

FIELDS = ("email_backend", "from_name", "from_email", "reply_to", "sms_backend", "sms_from")


@admin_required
def delivery_settings(request: MemberRequest) -> HttpResponse:
    current = selectors.delivery_settings_get(workspace=request.workspace)
    form = DeliverySettingsForm(posted(request), initial={name: getattr(current, name) for name in FIELDS})
    saved = False
    if request.method == "POST" and form.is_valid():
        try:
            services.delivery_settings_update(workspace=request.workspace, actor=request.user, data=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, "Delivery settings saved.")
                return redirect("web:delivery_settings")
            saved = True
    # HTMX swaps only 2xx answers: the section with its field errors comes back as 200; a plain POST gets 400.
    status = 400 if form.is_bound and form.errors and not request.htmx else 200
    template = "messaging/delivery_settings_section.html" if request.htmx else "messaging/delivery_settings.html"
    return render(request, template, {"delivery_form": form, "saved": saved}, status=status)
