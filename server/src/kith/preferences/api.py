"""REST endpoints: /api/v1/topics/ and /api/v1/suppressions/. Thin: validate, call a service or selector, serialize.

Topics are read by every member and changed by owners and admins (they shape every marketing send). The
suppression list holds every address of the workspace, so only owners and admins (or a key with the scope) see it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.accounts.models import ApiKey
from kith.accounts.permissions import WorkspaceAccess
from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
)
from kith.contacts.api.views import CrmViewSet
from kith.messaging.models import Suppression, SuppressionReason
from kith.messaging.services import suppression_add
from kith.preferences import selectors, services
from kith.preferences.models import Topic


class TopicSerializer(serializers.ModelSerializer):
    archived = serializers.BooleanField(source="is_archived", read_only=True)

    class Meta:
        model = Topic
        fields = ["id", "name", "description", "default_subscribed", "archived", "archived_at", "created_at",
                  "updated_at"]
        read_only_fields = fields


class TopicInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200, help_text="Unique in the workspace, ignoring case.")
    description = StrictCharField(max_length=2000, required=False, allow_blank=True)
    default_subscribed = StrictBooleanField(
        required=False, help_text="true: contacts receive it until they opt out; false: only who opts in.")
    archived = StrictBooleanField(required=False, help_text="Archive (true) or restore (false) the topic.")


class ManagesTopics(permissions.BasePermission):
    """Owners and admins change topics; everyone reads (a key's scope is checked by ``WorkspaceAccess``)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS or isinstance(request.auth, ApiKey):
            return True
        membership = getattr(request._request, "membership", None)
        return membership is not None and membership.is_admin


@extend_schema_view(
    list=extend_schema(description="The workspace's subscription topics, archived ones included."),
    create=extend_schema(request=TopicInputSerializer, responses={201: TopicSerializer},
                         examples=[OpenApiExample("A topic", request_only=True,
                                                  value={"name": "Product news", "default_subscribed": True})]),
    partial_update=extend_schema(request=TopicInputSerializer, responses=TopicSerializer),
    update=extend_schema(request=TopicInputSerializer, responses=TopicSerializer,
                         description="Change the fields given (same as PATCH)."),
    destroy=extend_schema(description="Archive the topic (contacts' choices are kept; PATCH archived=false "
                                      "restores it)."),
)
class TopicViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = TopicSerializer
    permission_classes = [WorkspaceAccess, ManagesTopics]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created_at"]

    def workspace_queryset(self) -> Any:
        return selectors.topic_list(workspace=self.workspace, include_archived=True)

    def create(self, request: Request) -> Response:
        data = self.valid(TopicInputSerializer)
        archived = data.pop("archived", False)
        topic = services.topic_create(workspace=self.workspace, actor=self.actor, data=data)
        if archived:
            topic = services.topic_archive(topic=topic, actor=self.actor)
        return Response(TopicSerializer(topic).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        topic = self.get_object()
        data = self.valid(TopicInputSerializer, partial=True)
        archived = data.pop("archived", None)
        if data:
            topic = services.topic_update(topic=topic, actor=self.actor, data=data)
        if archived is not None:
            topic = services.topic_archive(topic=topic, actor=self.actor, archived=archived)
        return Response(TopicSerializer(topic).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.topic_archive(topic=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SuppressionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suppression
        fields = ["id", "address", "reason", "created_at"]
        read_only_fields = fields


# Reasons a caller may give; bounces and complaints normally arrive through provider webhooks, but an import
# from another tool carries them too.
_INPUT_REASONS = [SuppressionReason.MANUAL, SuppressionReason.IMPORTED, SuppressionReason.UNSUBSCRIBE,
                  SuppressionReason.HARD_BOUNCE, SuppressionReason.COMPLAINT]


class SuppressionInputSerializer(serializers.Serializer):
    address = StrictEmailField(max_length=254)
    reason = serializers.ChoiceField(choices=_INPUT_REASONS, default=SuppressionReason.MANUAL)


@extend_schema_view(
    list=extend_schema(description="Suppressed addresses, newest first.", parameters=[
        OpenApiParameter("address", str, description="Only addresses containing this text.")]),
    create=extend_schema(request=SuppressionInputSerializer, responses={201: SuppressionSerializer},
                         description="Suppress an address. An address already listed keeps its first reason and "
                                     "answers 201 with the existing entry.",
                         examples=[OpenApiExample("By hand", request_only=True,
                                                  value={"address": "someone@example.com", "reason": "manual"})]),
    destroy=extend_schema(description="Take the address off the list; marketing may reach it again."),
)
class SuppressionViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = SuppressionSerializer
    admin_only = True
    filter_backends: list[Any] = []

    def workspace_queryset(self) -> Any:
        # No address contains NUL (and PostgreSQL text cannot): drop it rather than fail the query.
        search = self.request.query_params.get("address", "").replace("\x00", "")[:254]
        return selectors.suppression_list(workspace=self.workspace, search=search)

    def create(self, request: Request) -> Response:
        data = self.valid(SuppressionInputSerializer)
        entry = suppression_add(workspace=self.workspace, address=data["address"], reason=data["reason"],
                                actor=self.actor)
        return Response(SuppressionSerializer(entry).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.suppression_remove(suppression=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: BaseRouter) -> None:
    router.register("topics", TopicViewSet, basename="topic")
    router.register("suppressions", SuppressionViewSet, basename="suppression")
