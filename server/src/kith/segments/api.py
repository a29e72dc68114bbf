"""REST API of segments: /api/v1/segments/ (CRUD), /segments/preview/ (count a definition before saving it) and
/segments/{id}/contacts/ (the members, cursor-paginated). Member reads go through the contact access rules, so a
restricted rep's counts and lists cover only the contacts they may see."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.core.api_fields import StrictCharField
from kith.contacts.api.serializers import ContactSerializer
from kith.contacts.api.views import CrmViewSet
from kith.segments import selectors, services
from kith.segments.models import Segment

DEFINITION_HELP = (
    "A filter tree — `{\"all\": [...]}`, `{\"any\": [...]}`, `{\"not\": {...}}` over conditions such as "
    "`{\"field\": \"lifecycle_stage\", \"op\": \"eq\", \"value\": \"customer\"}`, `{\"attr\": \"plan\", \"op\": "
    "\"in\", \"value\": [\"pro\"]}`, `{\"tag\": \"vip\"}`, `{\"event\": \"Purchase Completed\", \"op\": "
    "\"at_least\", \"count\": 2, \"within_days\": 90}`, `{\"message\": \"opened\", \"within_days\": 60}`, "
    "`{\"segment\": 12}` — or the text form `language=en&plan=pro`. Errors name the bad condition by its path."
)
_EXAMPLE = {"name": "Engaged pro customers", "definition": {"all": [
    {"field": "lifecycle_stage", "op": "eq", "value": "customer"},
    {"any": [{"attr": "plan", "op": "in", "value": ["pro", "team"]}, {"tag": "vip"}]},
    {"event": "Purchase Completed", "op": "at_least", "count": 2, "within_days": 90},
    {"not": {"field": "email_consent", "op": "eq", "value": "opted_out"}},
]}}


class SegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = ["id", "name", "definition", "created_by", "created_at", "updated_at"]
        read_only_fields = fields


class SegmentInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, required=False)
    definition = serializers.JSONField(required=False, help_text=DEFINITION_HELP)


class PreviewInputSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class SampleContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class PreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Matching contacts you may see.")
    sample = SampleContactSerializer(many=True, help_text=f"The newest {selectors.SAMPLE_SIZE} of them.")


@extend_schema_view(
    list=extend_schema(description="Segments of the workspace, newest first."),
    retrieve=extend_schema(description="One segment."),
    create=extend_schema(request=SegmentInputSerializer, responses={201: SegmentSerializer},
                         description="Create a segment (`name` and `definition` required). " + DEFINITION_HELP,
                         examples=[OpenApiExample("Pro customers who buy", value=_EXAMPLE, request_only=True)]),
    update=extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=SegmentInputSerializer, responses=SegmentSerializer,
                                 description="Change the fields given."),
    destroy=extend_schema(description="Delete the segment; refused (409) while another segment refers to it."),
)
class SegmentViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = SegmentSerializer
    ordering_fields = ["id"]

    def workspace_queryset(self) -> Any:
        return selectors.segment_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        data = self.valid(SegmentInputSerializer)
        missing = {name: ["This field is required."] for name in ("name", "definition") if name not in data}
        if missing:
            raise serializers.ValidationError(missing)
        segment = services.segment_create(workspace=self.workspace, actor=self.actor, name=data["name"],
                                          definition=data["definition"])
        return Response(SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        segment = self.get_object()
        data = self.valid(SegmentInputSerializer, partial=True)
        segment = services.segment_update(segment=segment, actor=self.actor, data=data)
        return Response(SegmentSerializer(segment).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.segment_delete(segment=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=PreviewInputSerializer, responses=PreviewSerializer,
                   description="Count a definition without saving it, with a small sample (the builder's live "
                               "count). An invalid definition is a 400 naming the bad condition.")
    @action(detail=False, methods=["post"], url_path="preview")
    def preview(self, request: Request) -> Response:
        definition = self.valid(PreviewInputSerializer)["definition"]
        condition = selectors.segment_condition(workspace=self.workspace, definition=definition)
        count, sample = selectors.segment_preview(workspace=self.workspace, membership=self.membership,
                                                  condition=condition)
        return Response(PreviewSerializer({"count": count, "sample": sample}).data)

    @extend_schema(responses=ContactSerializer(many=True), filters=False,
                   description="The segment's contacts that you may see, newest first (cursor-paginated).")
    @action(detail=True, methods=["get"], url_path="contacts")
    def contacts(self, request: Request, pk: int | None = None) -> Response:
        segment = self.get_object()
        condition = selectors.segment_condition(workspace=self.workspace, definition=segment.definition,
                                                segment_id=segment.pk)
        members = selectors.segment_members(workspace=self.workspace, membership=self.membership,
                                            condition=condition)
        page = self.paginate_queryset(members)
        return self.get_paginated_response(ContactSerializer(page, many=True).data)


def register(router: BaseRouter) -> None:
    router.register("segments", SegmentViewSet, basename="segment")
