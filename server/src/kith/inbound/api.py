"""REST API of incoming webhooks: /api/v1/inbound-endpoints/ (CRUD, rotate-secret) and /api/v1/inbound-deliveries/
(the log of received requests). Owners and admins only (sessions), or a key with the scope. The signing secret
appears only in the responses of create and rotate-secret; the public URL is always shown (it is not a credential
on its own)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet
from kith.core.api_fields import StrictBooleanField, StrictCharField
from kith.inbound import selectors, services
from kith.inbound.filters import InboundDeliveryFilter
from kith.inbound.models import EndpointKind, InboundDelivery, InboundEndpoint


class InboundEndpointSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField(help_text="The address to give the sender (Stripe: Developers → "
                                                      "Webhooks → Add endpoint).")

    class Meta:
        model = InboundEndpoint
        fields = ["id", "kind", "name", "url", "is_active", "last_received_at", "accepted_count", "rejected_count",
                  "ignored_count", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, endpoint: InboundEndpoint) -> str:
        return selectors.inbound_endpoint_url(endpoint)


class InboundEndpointSecretSerializer(InboundEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="The signing secret. Shown only here; store it now.")

    class Meta(InboundEndpointSerializer.Meta):
        fields = [*InboundEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class InboundEndpointCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=EndpointKind.choices)
    name = StrictCharField(max_length=100)
    signing_secret = StrictCharField(max_length=200, required=False, allow_blank=True,
                                     help_text="Stripe only: the endpoint's `whsec_…` signing secret from the Stripe "
                                               "dashboard. Generic endpoints get a generated secret; leave it out.")
    is_active = StrictBooleanField(required=False)


class InboundEndpointUpdateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False)
    is_active = StrictBooleanField(required=False)


class InboundEndpointRotateSerializer(serializers.Serializer):
    signing_secret = StrictCharField(max_length=200, required=False, allow_blank=True,
                                     help_text="Stripe only: the new `whsec_…` secret shown after \"Roll secret\".")


class InboundDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = InboundDelivery
        fields = ["id", "endpoint", "received_at", "status", "http_status", "reason", "event_type", "event_id",
                  "message_id", "excerpt"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(description="Incoming webhook endpoints of the workspace, newest first (without secrets)."),
    retrieve=extend_schema(description="One endpoint (without its secret)."),
    create=extend_schema(request=InboundEndpointCreateSerializer, responses={201: InboundEndpointSecretSerializer},
                         description="Create an endpoint. The response holds its URL and signing secret; the "
                                     "secret is shown only once."),
    update=extend_schema(request=InboundEndpointUpdateSerializer, responses=InboundEndpointSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=InboundEndpointUpdateSerializer, responses=InboundEndpointSerializer,
                                 description="Change the name, or pause/resume the endpoint."),
    destroy=extend_schema(description="Delete the endpoint and its delivery log; events it stored are kept."),
)
class InboundEndpointViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    admin_only = True
    serializer_class = InboundEndpointSerializer
    filterset_class = None
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    def workspace_queryset(self) -> Any:
        return selectors.inbound_endpoint_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        data = self.valid(InboundEndpointCreateSerializer)
        endpoint = services.inbound_endpoint_create(workspace=self.workspace, actor=self.actor, **data)
        return Response(InboundEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        endpoint = self.get_object()
        data = self.valid(InboundEndpointUpdateSerializer, partial=True)
        endpoint = services.inbound_endpoint_update(endpoint=endpoint, actor=self.actor, changes=data)
        return Response(InboundEndpointSerializer(endpoint).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.inbound_endpoint_delete(endpoint=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=InboundEndpointSerializer,
                   description="The endpoint whose secret a POST here replaces (without the secret).")
    @extend_schema(methods=["POST"], request=InboundEndpointRotateSerializer,
                   responses=InboundEndpointSecretSerializer,
                   description="Replace the signing secret: generic endpoints get a new generated one (in this "
                               "response only); Stripe endpoints take the new `signing_secret` from Stripe. "
                               "Requests signed with the old secret are refused from now on.")
    @action(detail=True, methods=["get", "post"], url_path="rotate-secret", pagination_class=None,
            filter_backends=[])
    def rotate_secret(self, request: Request, pk: int | None = None) -> Response:
        endpoint = self.get_object()
        if request.method == "GET":
            return Response(InboundEndpointSerializer(endpoint).data)
        data = self.valid(InboundEndpointRotateSerializer)
        endpoint = services.inbound_endpoint_rotate_secret(endpoint=endpoint, actor=self.actor, **data)
        return Response(InboundEndpointSecretSerializer(endpoint).data)


@extend_schema_view(
    list=extend_schema(description="Requests received by the workspace's endpoints, newest first; filter by "
                                   "`endpoint` and `status` (accepted, rejected, ignored)."),
    retrieve=extend_schema(description="One received request."),
)
class InboundDeliveryViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    admin_only = True
    serializer_class = InboundDeliverySerializer
    filterset_class = InboundDeliveryFilter
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    def workspace_queryset(self) -> Any:
        return selectors.inbound_delivery_list(workspace=self.workspace)


def register(router: BaseRouter) -> None:
    router.register("inbound-endpoints", InboundEndpointViewSet, basename="inbound-endpoint")
    router.register("inbound-deliveries", InboundDeliveryViewSet, basename="inbound-delivery")
