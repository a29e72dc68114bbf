"""REST API for the workspace itself: members, invitations, API keys and the audit log (admins only)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter
from rest_framework.views import APIView

from kith.accounts import selectors, services
from kith.accounts.models import ApiKey, ApiKeyScope, Invitation, Membership, Role
from kith.core.api_fields import StrictCharField, StrictEmailField
from kith.core.idempotency import IdempotentAutoSchema, IdempotentViewMixin
from kith.core.models import AuditEntry


def _actor(request: Request) -> Any:
    """The user, or the API key when the request came with one."""
    return request.auth if isinstance(request.auth, ApiKey) else request.user


class WorkspaceSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = StrictCharField(max_length=100)
    slug = serializers.SlugField(read_only=True)
    timezone = StrictCharField(max_length=64)

    def validate_timezone(self, value: str) -> str:
        import zoneinfo  # noqa: PLC0415 — stdlib, cheap

        if value not in zoneinfo.available_timezones():
            raise serializers.ValidationError("Use an IANA time zone name such as Europe/Berlin.")
        return value


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "name", "role", "restrict_to_own", "created_at"]
        read_only_fields = ["id", "email", "name", "restrict_to_own", "created_at"]


class InvitationSerializer(serializers.ModelSerializer):
    email = StrictEmailField(max_length=254)
    role = serializers.ChoiceField(choices=[r for r in Role.choices if r[0] != Role.OWNER])

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "status", "created_at", "expires_at"]
        read_only_fields = ["id", "status", "created_at", "expires_at"]


class ApiKeySerializer(serializers.ModelSerializer):
    name = StrictCharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=ApiKeyScope.choices), allow_empty=False)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The full key. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class AuditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEntry
        fields = ["id", "action", "actor_label", "target_type", "target_id", "target_label", "before", "after",
                  "ip_address", "request_id", "created_at"]


class WorkspaceView(APIView):
    """The workspace the request acts for (the key's, or the session's current one). Members read it; admins and
    write-scoped keys change it."""

    serializer_class = WorkspaceSerializer

    @property
    def admin_only(self) -> bool:
        return self.request.method not in SAFE_METHODS

    @extend_schema(responses=WorkspaceSerializer)
    def get(self, request: Request) -> Response:
        return Response(WorkspaceSerializer(request._request.workspace).data)

    @extend_schema(request=WorkspaceSerializer, responses=WorkspaceSerializer)
    def patch(self, request: Request) -> Response:
        workspace = request._request.workspace
        serializer = WorkspaceSerializer(workspace, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.workspace_update(workspace=workspace, actor=_actor(request),
                                  name=data.get("name", workspace.name),
                                  timezone_name=data.get("timezone", workspace.timezone))
        return Response(WorkspaceSerializer(workspace).data)


class WorkspaceScopedViewSet(viewsets.GenericViewSet):
    admin_only = True
    lookup_value_converter = "int"
    # The router builds regex paths, where the converter above is ignored: without this, "/topics/%C2%A03/" would
    # reach get_object() and int("\xa03") == 3 would find topic 3. ASCII digits only, as the schema says.
    lookup_value_regex = "[0-9]+"

    @property
    def workspace(self) -> Any:
        return self.request._request.workspace

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no workspace
            return self.serializer_class.Meta.model.objects.none()
        return self.workspace_queryset()

    def workspace_queryset(self) -> Any:
        raise TypeError(f"{type(self).__name__} must define workspace_queryset()")


class MemberViewSet(IdempotentViewMixin, WorkspaceScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = MemberSerializer
    schema = IdempotentAutoSchema()

    def workspace_queryset(self) -> Any:
        return selectors.member_list(workspace=self.workspace)

    @extend_schema(request=MemberSerializer, responses=MemberSerializer)
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        membership = self.get_object()
        serializer = MemberSerializer(membership, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        role = serializer.validated_data.get("role", membership.role)
        services.member_set_role(membership=membership, role=role, actor=_actor(request),
                                 actor_membership=request._request.membership)
        return Response(MemberSerializer(membership).data)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.member_remove(membership=self.get_object(), actor=_actor(request),
                               actor_membership=request._request.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(IdempotentViewMixin, WorkspaceScopedViewSet, mixins.ListModelMixin,
                        mixins.RetrieveModelMixin):
    serializer_class = InvitationSerializer
    schema = IdempotentAutoSchema()

    def workspace_queryset(self) -> Any:
        return selectors.invitation_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(workspace=self.workspace, actor=_actor(request),
                                                **serializer.validated_data)
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.invitation_revoke(invitation=self.get_object(), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create=extend_schema(
        request=ApiKeySerializer,
        responses={201: ApiKeyCreatedSerializer},
        examples=[OpenApiExample("A read-only key", value={"name": "Reporting", "scopes": ["read"]},
                                 request_only=True)],
    )
)
class ApiKeyViewSet(IdempotentViewMixin, WorkspaceScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """A replayed create (same Idempotency-Key) answers the same key without its secret: the secret is never
    stored, not even in the idempotency record, so only the first answer carries it."""

    serializer_class = ApiKeySerializer
    schema = IdempotentAutoSchema()

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        data = getattr(response, "data", None)
        secret = data.get("key") if isinstance(data, dict) and response.status_code == status.HTTP_201_CREATED \
            else None
        if secret is None:
            return super().finalize_response(request, response, *args, **kwargs)
        # The idempotency mixin stores response.data while finalizing; it must see the masked form. The response
        # is rendered afterwards, so the caller still receives the secret.
        response.data = {**data, "key": f"kith_{data['prefix']}_(shown only once)"}
        response = super().finalize_response(request, response, *args, **kwargs)
        response.data = data
        return response

    def workspace_queryset(self) -> Any:
        return selectors.api_key_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        serializer = ApiKeySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, raw = services.api_key_create(workspace=self.workspace, actor=_actor(request),
                                           name=serializer.validated_data["name"],
                                           scopes=serializer.validated_data["scopes"])
        data = ApiKeySerializer(key).data | {"key": raw}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(description="Revoke the key. It stops working at once and cannot be restored.")
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.api_key_revoke(api_key=self.get_object(), actor=_actor(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditEntryViewSet(WorkspaceScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = AuditEntrySerializer
    filterset_fields = ["action"]

    def workspace_queryset(self) -> Any:
        return selectors.audit_list(workspace=self.workspace)


urlpatterns = [path("workspace/", WorkspaceView.as_view(), name="workspace")]


def register(router: BaseRouter) -> None:
    router.register("members", MemberViewSet, basename="member")
    router.register("invitations", InvitationViewSet, basename="invitation")
    router.register("api-keys", ApiKeyViewSet, basename="api-key")
    router.register("audit-log", AuditEntryViewSet, basename="audit-entry")
