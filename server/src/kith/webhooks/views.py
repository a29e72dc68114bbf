"""Settings → Webhooks: endpoints, their secrets (shown once), the delivery log with replay. Owners and admins."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from kith.core.errors import KithError
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    admin_object_view,
    admin_required,
    posted,
    render_confirm,
    with_toast,
)
from kith.webhooks import selectors, services
from kith.webhooks.forms import (
    EVENT_DESCRIPTIONS,
    WebhookEndpointForm,
    WebhookSettingsForm,
)
from kith.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

LOG_PAGE_SIZE = 50


@admin_required
def webhook_settings(request: MemberRequest) -> HttpResponse:
    deliveries = selectors.webhook_delivery_list(workspace=request.workspace)
    status = request.GET.get("status", "")
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    current = selectors.webhook_settings_get(workspace=request.workspace)
    context = {"endpoints": selectors.webhook_endpoint_list(workspace=request.workspace), "page": page,
               "status": status, "statuses": DeliveryStatus.choices,
               "settings_form": WebhookSettingsForm(initial={"allow_private_addresses":
                                                             current.allow_private_addresses})}
    return render(request, "webhooks/settings.html", context)


@admin_required
def webhook_settings_save(request: MemberRequest) -> HttpResponse:
    """POST only: the workspace's webhook settings (the form sits on the Webhooks page)."""
    if request.method != "POST":
        return redirect("outgoing_webhooks:settings")
    form = WebhookSettingsForm(request.POST)
    form.is_valid()  # a checkbox: always valid, absent means off
    services.webhook_settings_update(workspace=request.workspace, actor=request.user,
                                     allow_private_addresses=bool(form.cleaned_data.get("allow_private_addresses")))
    messages.success(request, "Webhook settings were saved.")
    return redirect("outgoing_webhooks:settings")


def _secret_page(request: MemberRequest, endpoint: WebhookEndpoint, *, title: str) -> HttpResponse:
    # As with API keys: the secret goes into this response only, never a session or a redirect; no-store keeps it
    # out of caches.
    response = render(request, "webhooks/secret.html", {"endpoint": endpoint, "title": title})
    add_never_cache_headers(response)
    return response


def _form_page(request: MemberRequest, form: WebhookEndpointForm, endpoint: WebhookEndpoint | None) -> HttpResponse:
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "endpoint": endpoint, "event_descriptions": EVENT_DESCRIPTIONS}
    return render(request, "webhooks/form.html", context, status=status)


@admin_required
def webhook_endpoint_create(request: MemberRequest) -> HttpResponse:
    form = WebhookEndpointForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(workspace=request.workspace, actor=request.user,
                                                        **form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            return _secret_page(request, endpoint, title="Webhook endpoint created")
    return _form_page(request, form, None)


def _endpoint(request: MemberRequest, pk: int) -> WebhookEndpoint:
    return get_object_or_404(selectors.webhook_endpoint_list(workspace=request.workspace), pk=pk)


def _confirm(request: MemberRequest, *, title: str, message: str, label: str) -> HttpResponse:
    return render_confirm(request, title=title, message=message, confirm_label=label, tone="primary",
                          cancel_url=reverse("outgoing_webhooks:settings"))


@admin_object_view
def webhook_endpoint_edit(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
               "is_active": endpoint.is_active}
    form = WebhookEndpointForm(posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_update(endpoint=endpoint, actor=request.user, changes=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "The endpoint was saved.")
            return redirect("outgoing_webhooks:settings")
    return _form_page(request, form, endpoint)


@admin_object_view
def webhook_endpoint_rotate(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "GET":
        return _confirm(request, title="Rotate the signing secret?", label="Rotate secret",
                        message=f"Deliveries to {endpoint.url} are signed with a new secret from now on; the "
                                "receiver must be given the new one, or it will reject them.")
    endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
    return _secret_page(request, endpoint, title="New signing secret")


@admin_object_view
def webhook_endpoint_test(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "GET":
        return _confirm(request, title="Send a test event?", label="Send test event",
                        message=f"A signed webhook.test event is sent to {endpoint.url}.")
    services.webhook_endpoint_ping(endpoint=endpoint)
    messages.success(request, f"A test event is on its way to {endpoint.url}; see the delivery log.")
    return redirect("outgoing_webhooks:settings")


@admin_object_view
def webhook_delivery_replay(request: MemberRequest, pk: int) -> HttpResponse:
    delivery: WebhookDelivery = get_object_or_404(selectors.webhook_delivery_list(workspace=request.workspace),
                                                  pk=pk)
    if request.method == "GET":
        return _confirm(request, title="Replay this delivery?", label="Replay",
                        message=f"The {delivery.event_type} payload is sent to {delivery.endpoint.url} again, "
                                "as a new delivery.")
    replay = services.webhook_delivery_replay(delivery=delivery, actor=request.user)
    if request.htmx:
        # The new delivery goes on top of the log; re-read it, its job may already have run.
        fresh = get_object_or_404(selectors.webhook_delivery_list(workspace=request.workspace), pk=replay.pk)
        response = render(request, "webhooks/_delivery_row.html", {"delivery": fresh})
        return with_toast(response, "Replayed; the new delivery is at the top of the log.")
    messages.success(request, "Replayed; the new delivery is at the top of the log.")
    return redirect(reverse("outgoing_webhooks:settings"))
