"""REST API of outgoing webhooks: /api/v1/webhook-endpoints/ (CRUD, rotate-secret, test) and
/api/v1/webhook-deliveries/ (the delivery log, replay). Owners and admins only (sessions), or a key with the
scope. The secret appears only in the responses of create and rotate-secret."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet
from kith.core.api_fields import StrictBooleanField, StrictCharField
from kith.webhooks import selectors, services
from kith.webhooks.events import EVENT_TYPES, TEST_EVENT
from kith.webhooks.filters import WebhookDeliveryFilter
from kith.webhooks.models import ALL_EVENTS, WebhookDelivery, WebhookEndpoint

EVENT_CHOICES = [ALL_EVENTS, *EVENT_TYPES]
# How many test deliveries / replays the GET side of those actions lists.
RECENT = 20


class WebhookEndpointSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "failing_since", "disabled_at",
                  "disabled_reason", "created_at", "updated_at"]
        read_only_fields = fields


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text="Standard Webhooks signing secret (`whsec_…`). "
                                                             "Shown only here; store it now.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(serializers.Serializer):
    url = StrictCharField(max_length=2000, help_text="http(s) URL; private and loopback addresses are refused.")
    description = StrictCharField(max_length=200, allow_blank=True, required=False)
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES), allow_empty=False,
                                        max_length=len(EVENT_CHOICES),
                                        help_text='Event types to receive, or `["*"]` for all.')
    is_active = StrictBooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "endpoint", "event_type", "message_id", "payload", "status", "attempts", "next_attempt_at",
                  "last_attempt_at", "response_code", "response_body", "error", "replay_of", "created_at",
                  "updated_at"]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(description="Webhook endpoints of the workspace, newest first (without their secrets)."),
    retrieve=extend_schema(description="One endpoint (without its secret)."),
    create=extend_schema(request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointSecretSerializer},
                         description="Create an endpoint. The response holds its signing secret, shown only once."),
    update=extend_schema(request=WebhookEndpointInputSerializer, responses=WebhookEndpointSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=WebhookEndpointInputSerializer, responses=WebhookEndpointSerializer,
                                 description="Change the fields given."),
    destroy=extend_schema(description="Delete the endpoint and its delivery log."),
)
class WebhookEndpointViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    admin_only = True
    serializer_class = WebhookEndpointSerializer
    filterset_class = None
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    def workspace_queryset(self) -> Any:
        return selectors.webhook_endpoint_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        data = self.valid(WebhookEndpointInputSerializer)
        endpoint = services.webhook_endpoint_create(workspace=self.workspace, actor=self.actor, **data)
        return Response(WebhookEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        endpoint = self.get_object()
        data = self.valid(WebhookEndpointInputSerializer, partial=True)
        endpoint = services.webhook_endpoint_update(endpoint=endpoint, actor=self.actor, changes=data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.webhook_endpoint_delete(endpoint=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=WebhookEndpointSerializer,
                   description="The endpoint whose secret a POST here replaces (without the secret).")
    @extend_schema(methods=["POST"], request=None, responses=WebhookEndpointSecretSerializer,
                   description="Replace the signing secret; the new one is in this response only. Deliveries from "
                               "now on, retries included, are signed with it.")
    @action(detail=True, methods=["get", "post"], url_path="rotate-secret", pagination_class=None,
            filter_backends=[])
    def rotate_secret(self, request: Request, pk: int | None = None) -> Response:
        endpoint = self.get_object()
        if request.method == "GET":
            return Response(WebhookEndpointSerializer(endpoint).data)
        endpoint = services.webhook_endpoint_rotate_secret(endpoint=endpoint, actor=self.actor)
        return Response(WebhookEndpointSecretSerializer(endpoint).data)

    @extend_schema(methods=["GET"], responses=WebhookDeliverySerializer(many=True),
                   description=f"The last {RECENT} test deliveries to this endpoint, newest first.")
    @extend_schema(methods=["POST"], request=None, responses={202: WebhookDeliverySerializer},
                   description="Send a `webhook.test` event to this endpoint; the delivery is returned (202) and "
                               "its outcome appears in the delivery log.")
    @action(detail=True, methods=["get", "post"], url_path="test", pagination_class=None, filter_backends=[])
    def test(self, request: Request, pk: int | None = None) -> Response:
        endpoint = self.get_object()
        if request.method == "GET":
            recent = endpoint.deliveries.filter(event_type=TEST_EVENT)[:RECENT]
            return Response(WebhookDeliverySerializer(recent, many=True).data)
        delivery = services.webhook_endpoint_ping(endpoint=endpoint)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(description="The delivery log, newest first; filter by `endpoint` and `status`."),
    retrieve=extend_schema(description="One delivery."),
)
class WebhookDeliveryViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    admin_only = True
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilter
    search_fields: list[str] = []
    ordering_fields: list[str] = []

    def workspace_queryset(self) -> Any:
        return selectors.webhook_delivery_list(workspace=self.workspace)

    @extend_schema(methods=["GET"], responses=WebhookDeliverySerializer(many=True),
                   description=f"The last {RECENT} replays of this delivery, newest first.")
    @extend_schema(methods=["POST"], request=None, responses={202: WebhookDeliverySerializer},
                   description="Send this delivery's payload again, as a new delivery (new `message_id`, "
                               "`replay_of` pointing here).")
    @action(detail=True, methods=["get", "post"], url_path="replay", pagination_class=None, filter_backends=[])
    def replay(self, request: Request, pk: int | None = None) -> Response:
        delivery = self.get_object()
        if request.method == "GET":
            replays = self.get_queryset().filter(replay_of=delivery)[:RECENT]
            return Response(WebhookDeliverySerializer(replays, many=True).data)
        replay = services.webhook_delivery_replay(delivery=delivery, actor=self.actor)
        return Response(WebhookDeliverySerializer(replay).data, status=status.HTTP_202_ACCEPTED)


def register(router: BaseRouter) -> None:
    router.register("webhook-endpoints", WebhookEndpointViewSet, basename="webhook-endpoint")
    router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")
