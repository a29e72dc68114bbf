"""Settings → Incoming webhooks: endpoints (URL always visible, secret shown once), pause/rename, secret
replacement, deletion, and the log of received requests. Owners and admins."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from kith.core.errors import KithError
from kith.inbound import selectors, services
from kith.inbound.forms import (
    KIND_DESCRIPTIONS,
    InboundEndpointEditForm,
    InboundEndpointForm,
    StripeSecretForm,
)
from kith.inbound.models import DeliveryStatus, EndpointKind, InboundEndpoint
from kith.inbound.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_SECONDS,
)
from kith.web.forms import add_domain_error
from kith.web.views.base import (
    MemberRequest,
    admin_object_view,
    admin_required,
    posted,
    render_confirm,
)

LOG_PAGE_SIZE = 50


@admin_required
def inbound_settings(request: MemberRequest) -> HttpResponse:
    endpoints = list(selectors.inbound_endpoint_list(workspace=request.workspace))
    for endpoint in endpoints:
        endpoint.public_url = selectors.inbound_endpoint_url(endpoint)  # type: ignore[attr-defined]
    deliveries = selectors.inbound_delivery_list(workspace=request.workspace)
    status = request.GET.get("status", "")
    if status in DeliveryStatus.values:
        deliveries = deliveries.filter(status=status)
    page = Paginator(deliveries, LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"endpoints": endpoints, "page": page, "status": status, "statuses": DeliveryStatus.choices}
    return render(request, "inbound/settings.html", context)


def _created_page(request: MemberRequest, endpoint: InboundEndpoint, *, title: str) -> HttpResponse:
    # The secret goes into this response only (never a session or a redirect); no-store keeps it out of caches.
    context = {"endpoint": endpoint, "title": title, "url": selectors.inbound_endpoint_url(endpoint),
               "signature_header": SIGNATURE_HEADER, "timestamp_header": TIMESTAMP_HEADER,
               "tolerance": TOLERANCE_SECONDS, "show_secret": endpoint.kind == EndpointKind.GENERIC}
    response = render(request, "inbound/created.html", context)
    add_never_cache_headers(response)
    return response


@admin_required
def inbound_endpoint_create(request: MemberRequest) -> HttpResponse:
    form = InboundEndpointForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = services.inbound_endpoint_create(workspace=request.workspace, actor=request.user,
                                                        **form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            return _created_page(request, endpoint, title="Incoming webhook endpoint created")
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "inbound/form.html", {"form": form, "kind_descriptions": KIND_DESCRIPTIONS},
                  status=status)


def _endpoint(request: MemberRequest, pk: int) -> InboundEndpoint:
    return get_object_or_404(selectors.inbound_endpoint_list(workspace=request.workspace), pk=pk)


@admin_object_view
def inbound_endpoint_edit(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    form = InboundEndpointEditForm(posted(request), initial={"name": endpoint.name, "is_active": endpoint.is_active})
    if request.method == "POST" and form.is_valid():
        try:
            services.inbound_endpoint_update(endpoint=endpoint, actor=request.user, changes=form.cleaned_data)
        except KithError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "The endpoint was saved.")
            return redirect("inbound:settings")
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "endpoint": endpoint, "url": selectors.inbound_endpoint_url(endpoint)}
    return render(request, "inbound/edit.html", context, status=status)


@admin_object_view
def inbound_endpoint_rotate(request: MemberRequest, pk: int) -> HttpResponse:
    """Generic: confirm, then a new generated secret (shown once). Stripe: a form for the new whsec_ secret."""
    endpoint = _endpoint(request, pk)
    if endpoint.kind == EndpointKind.STRIPE:
        form = StripeSecretForm(posted(request))
        if request.method == "POST" and form.is_valid():
            try:
                services.inbound_endpoint_rotate_secret(endpoint=endpoint, actor=request.user,
                                                        signing_secret=form.cleaned_data["signing_secret"])
            except KithError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, f"The Stripe signing secret of {endpoint.name} was replaced.")
                return redirect("inbound:settings")
        status = 400 if form.is_bound and form.errors else 200
        return render(request, "inbound/stripe_secret.html", {"form": form, "endpoint": endpoint}, status=status)
    if request.method == "GET":
        return render_confirm(request, title="Replace the signing secret?", confirm_label="Replace secret",
                              tone="primary", cancel_url=reverse("inbound:settings"),
                              message=f"Requests to {endpoint.name} must be signed with a new secret from now on; "
                                      "the sender must be given it, or its requests are refused.")
    endpoint = services.inbound_endpoint_rotate_secret(endpoint=endpoint, actor=request.user)
    return _created_page(request, endpoint, title="New signing secret")


@admin_object_view
def inbound_endpoint_delete(request: MemberRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    if request.method == "GET":
        return render_confirm(request, title="Delete this endpoint?", confirm_label="Delete endpoint",
                              cancel_url=reverse("inbound:settings"),
                              message=f"{endpoint.name} stops accepting requests and its delivery log is deleted. "
                                      "Events it already stored stay on the contacts' timelines.")
    name = endpoint.name
    services.inbound_endpoint_delete(endpoint=endpoint, actor=request.user)
    messages.success(request, f"{name} was deleted.")
    return redirect("inbound:settings")
