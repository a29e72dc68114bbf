"""REST API of pipelines, stages, deals and lead conversion. Thin: validate the shape, resolve references through
the selectors (so a member limited to their own records cannot link or see others' deals), call a service."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.accounts.permissions import WorkspaceAccess
from kith.contacts import selectors as contact_selectors
from kith.contacts.api.bulk import (
    BULK_DESCRIPTION,
    BulkResultSerializer,
    bulk_request_serializer,
    bulk_result_example,
)
from kith.contacts.api.exports import ExportMixin
from kith.contacts.api.views import CrmViewSet, ManagesVocabulary
from kith.contacts.bulk import MAX_BULK_ITEMS, bulk_summary
from kith.contacts.errors import InvalidFields
from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from kith.core.errors import NotFound
from kith.deals import selectors, services
from kith.deals.exports import deal_export_columns
from kith.deals.filters import DealFilter
from kith.deals.models import (
    Deal,
    DealStageChange,
    DealStatus,
    Pipeline,
    Stage,
    StageKind,
)
from kith.deals.services.deals import MAX_VALUE
from kith.search import selectors as search_selectors
from kith.search.api import FULL_TEXT_FILTER_BACKENDS

MAX_ID = 2**63 - 1
# Card positions are small indexes into one column; the bound keeps them far from integer overflow.
MAX_POSITION = 1_000_000


def _id(*, required: bool = False, help_text: str = "") -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, required=required, allow_null=not required,
                              help_text=help_text)


def _value_field() -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, max_value=MAX_VALUE,
                                    required=False)


class StageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Stage
        fields = ["id", "pipeline", "name", "position", "win_probability", "kind"]


class PipelineSerializer(serializers.ModelSerializer):
    stages = StageSerializer(many=True, read_only=True)

    class Meta:
        model = Pipeline
        fields = ["id", "name", "is_default", "position", "stages", "created_at"]


class StageSpecSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    win_probability = StrictIntegerField(min_value=0, max_value=100, required=False, default=0)
    kind = serializers.ChoiceField(choices=StageKind.choices, required=False, default=StageKind.OPEN)


class PipelineInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    is_default = StrictBooleanField(required=False)
    stages = StageSpecSerializer(many=True, required=False, allow_empty=False, max_length=50,
                                 help_text="Stages in order; the default funnel when left out (create only).")


class StageInputSerializer(serializers.Serializer):
    pipeline = _id(required=True, help_text="The pipeline to add the stage to (create only).")
    name = StrictCharField(max_length=100)
    win_probability = StrictIntegerField(min_value=0, max_value=100, required=False)
    kind = serializers.ChoiceField(choices=StageKind.choices, required=False)


class StageReorderSerializer(serializers.Serializer):
    stages = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=MAX_ID), max_length=50,
                                   help_text="Every stage id of the pipeline, in the new order.")


class DealSerializer(serializers.ModelSerializer):
    stage_name = serializers.CharField(source="stage.name", read_only=True)
    owner_email = serializers.CharField(source="owner.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Deal
        fields = ["id", "name", "pipeline", "stage", "stage_name", "status", "value", "currency",
                  "expected_close_date", "owner", "owner_email", "contact", "company", "lost_reason", "position",
                  "closed_at", "external_id", "created_at", "updated_at"]
        read_only_fields = ["external_id"]


class StageChangeSerializer(serializers.ModelSerializer):
    changed_by_email = serializers.CharField(source="changed_by.email", read_only=True, allow_null=True,
                                             default=None)

    class Meta:
        model = DealStageChange
        fields = ["id", "from_stage", "from_stage_name", "to_stage", "to_stage_name", "changed_by_email",
                  "changed_at"]


class DealInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=255)
    pipeline = _id(help_text="Create only; the default pipeline when left out.")
    stage = _id(help_text="Create only (move a deal with /move/); the pipeline's first stage when left out.")
    value = _value_field()
    currency = StrictCharField(max_length=3, min_length=3, required=False, help_text="ISO 4217, such as EUR.")
    expected_close_date = serializers.DateField(required=False, allow_null=True)
    owner = _id(help_text="A member's user id; the creator when left out.")
    contact = _id()
    company = _id()
    status = serializers.ChoiceField(choices=DealStatus.choices, required=False,
                                     help_text="Update only: close or reopen the deal where it stands.")
    lost_reason = StrictCharField(max_length=255, required=False, allow_blank=True)


class DealBulkItemSerializer(DealInputSerializer):
    """On create ``name`` is required and ``pipeline``/``stage`` may be given; on update (``id`` or a known
    ``external_id``) the fields of PATCH."""

    name = StrictCharField(max_length=255, required=False, help_text="Required when creating.")
    id = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False,
                            help_text="Give it to update that deal.")
    external_id = StrictCharField(max_length=255, required=False,
                                  help_text="The deal's id in your system: updates the deal that has it, or creates "
                                            "it with this id (so a retried sync creates nothing twice).")


DealBulkRequestSerializer = bulk_request_serializer(
    "DealBulkRequestSerializer", DealBulkItemSerializer,
    f"At most {MAX_BULK_ITEMS} deals: items with `id` (or the `external_id` of a deal) update it, the others "
    "create one.")


class DealMoveSerializer(serializers.Serializer):
    stage = _id(required=True)
    position = StrictIntegerField(min_value=0, max_value=MAX_POSITION, required=False, allow_null=True,
                                  help_text="Index in the target column; the end when left out.")
    lost_reason = StrictCharField(max_length=255, required=False, allow_blank=True,
                                  help_text="Required when moving into a lost stage, unless the deal has one.")


class LeadConversionSerializer(serializers.Serializer):
    contact = _id(required=True)
    company_name = StrictCharField(max_length=255, required=False, allow_blank=True)
    deal_name = StrictCharField(max_length=255, required=False, allow_blank=True)
    value = _value_field()
    pipeline = _id(help_text="The default pipeline when left out.")


class DealsViewSet(CrmViewSet):
    """What the deal endpoints share: turning ids in a request into objects the caller may see (else 400)."""

    def ref(self, kind: str, pk: int | None) -> Any:
        if pk is None:
            return None
        try:
            if kind == "pipeline":
                return selectors.pipeline_get(workspace=self.workspace, pipeline_id=pk)
            if kind == "stage":
                return selectors.stage_get(workspace=self.workspace, stage_id=pk)
            if kind == "contact":
                return contact_selectors.contact_get(workspace=self.workspace, membership=self.membership,
                                                     contact_id=pk)
            if kind == "company":
                return contact_selectors.company_get(workspace=self.workspace, membership=self.membership,
                                                     company_id=pk)
            return selectors.deal_owner_get(workspace=self.workspace, user_id=pk)
        except NotFound as exc:
            raise InvalidFields({kind: [f"No such {kind} in this workspace."]}) from exc


@extend_schema_view(
    list=extend_schema(description="Pipelines in board order, each with its stages in order."),
    create=extend_schema(request=PipelineInputSerializer, responses={201: PipelineSerializer},
                         examples=[OpenApiExample("With the default stages", request_only=True,
                                                  value={"name": "Renewals"})]),
    update=extend_schema(request=PipelineInputSerializer, responses=PipelineSerializer),
    partial_update=extend_schema(request=PipelineInputSerializer, responses=PipelineSerializer),
    destroy=extend_schema(description="Delete an empty pipeline (409 while it has deals)."),
)
class PipelineViewSet(DealsViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = PipelineSerializer
    permission_classes = [WorkspaceAccess, ManagesVocabulary]
    ordering_fields = ["position", "id", "name"]
    search_fields = ["name"]

    def workspace_queryset(self) -> Any:
        return selectors.pipeline_list(workspace=self.workspace)

    def _show(self, pipeline: Pipeline, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.pipeline_get(workspace=self.workspace, pipeline_id=pipeline.pk)
        return Response(PipelineSerializer(fresh).data, status=code)

    def create(self, request: Request) -> Response:
        data = self.valid(PipelineInputSerializer)
        specs = [services.StageSpec(**spec) for spec in data["stages"]] if "stages" in data else None
        pipeline = services.pipeline_create(workspace=self.workspace, actor=self.actor, name=data["name"],
                                            stages=specs, is_default=data.get("is_default", False))
        return self._show(pipeline, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        pipeline = self.get_object()
        data = self.valid(PipelineInputSerializer, partial=True)
        if "stages" in data:
            raise InvalidFields({"stages": ["Change stages through /api/v1/stages/."]})
        services.pipeline_update(pipeline=pipeline, actor=self.actor, name=data.get("name"),
                                 is_default=data.get("is_default"))
        return self._show(pipeline)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.pipeline_delete(pipeline=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=StageReorderSerializer,
                   description="The pipeline's stage ids in board order.")
    @extend_schema(methods=["POST"], request=StageReorderSerializer, responses=PipelineSerializer,
                   description="Put the pipeline's stages in a new order.")
    @action(detail=True, methods=["get", "post"], url_path="reorder-stages")
    def reorder_stages(self, request: Request, pk: int | None = None) -> Response:
        pipeline = self.get_object()
        if request.method == "GET":
            return Response({"stages": [stage.pk for stage in pipeline.stages.all()]})
        services.stage_reorder(pipeline=pipeline, actor=self.actor,
                               stage_ids=self.valid(StageReorderSerializer)["stages"])
        return self._show(pipeline)


@extend_schema_view(
    list=extend_schema(description="Stages of every pipeline, in board order.",
                       parameters=[OpenApiParameter("pipeline", int, description="Only this pipeline's stages.")]),
    create=extend_schema(request=StageInputSerializer, responses={201: StageSerializer},
                         description="Append a stage to a pipeline."),
    update=extend_schema(request=StageInputSerializer, responses=StageSerializer,
                         description="Rename the stage or change its probability or kind."),
    partial_update=extend_schema(request=StageInputSerializer, responses=StageSerializer),
    destroy=extend_schema(
        description="Delete the stage. When it holds deals, give `move_deals_to` (409 otherwise).",
        parameters=[OpenApiParameter("move_deals_to", int, description="A stage of the same pipeline.")]),
)
class StageViewSet(DealsViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = StageSerializer
    permission_classes = [WorkspaceAccess, ManagesVocabulary]
    ordering_fields = ["position", "id"]
    search_fields = ["name"]

    def workspace_queryset(self) -> Any:
        queryset = selectors.stage_list(workspace=self.workspace)
        pipeline = self._query_id("pipeline")
        return queryset.filter(pipeline_id=pipeline) if pipeline is not None else queryset

    def _query_id(self, name: str) -> int | None:
        values = self.request.query_params.getlist(name)
        if not values:
            return None
        if len(values) > 1:
            raise InvalidFields({name: ["Give this parameter once."]})
        text = values[0]
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_ID:
            raise InvalidFields({name: ["Give a stage or pipeline id."]})
        return int(text)

    def create(self, request: Request) -> Response:
        data = self.valid(StageInputSerializer)
        pipeline = self.ref("pipeline", data["pipeline"])
        stage = services.stage_add(pipeline=pipeline, actor=self.actor, name=data["name"],
                                   win_probability=data.get("win_probability", 0),
                                   kind=data.get("kind", StageKind.OPEN))
        return Response(StageSerializer(stage).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        stage = self.get_object()
        data = self.valid(StageInputSerializer, partial=True)
        if "pipeline" in data and data["pipeline"] != stage.pipeline_id:
            raise InvalidFields({"pipeline": ["A stage cannot move to another pipeline."]})
        stage = services.stage_update(stage=stage, actor=self.actor, name=data.get("name"),
                                      win_probability=data.get("win_probability"), kind=data.get("kind"))
        return Response(StageSerializer(stage).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        stage = self.get_object()
        target = self._query_id("move_deals_to")
        services.stage_delete(stage=stage, actor=self.actor, move_deals_to=self.ref("stage", target))
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(description="Deals, newest first (restricted reps see only their own)."),
    create=extend_schema(request=DealInputSerializer, responses={201: DealSerializer},
                         examples=[OpenApiExample("A deal", request_only=True,
                                                  value={"name": "Globex renewal", "value": "12000.00",
                                                         "currency": "EUR", "expected_close_date": "2026-12-31"})]),
    update=extend_schema(request=DealInputSerializer, responses=DealSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=DealInputSerializer, responses=DealSerializer),
    destroy=extend_schema(description="Delete the deal."),
)
class DealViewSet(ExportMixin, DealsViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = DealSerializer
    export_name = export_object = "deals"
    filterset_class = DealFilter
    search_fields = ["name"]
    # ?search= is full-text (kith.search): the deal's name and its company's name or domain.
    filter_backends = FULL_TEXT_FILTER_BACKENDS
    search_function = staticmethod(search_selectors.deal_search)
    ordering_fields = ["id", "created_at", "updated_at", "name", "value", "expected_close_date", "position"]

    def workspace_queryset(self) -> Any:
        return selectors.deal_list(workspace=self.workspace, membership=self.membership)

    def export_columns(self) -> Any:
        return deal_export_columns(workspace=self.workspace)

    def _show(self, deal: Deal, code: int = status.HTTP_200_OK) -> Response:
        # Shown to the writer even when the change took it out of their view (handing a deal to a colleague).
        fresh = selectors.deal_get(workspace=self.workspace, membership=None, deal_id=deal.pk)
        return Response(DealSerializer(fresh).data, status=code)

    def _refs(self, data: dict[str, Any]) -> dict[str, Any]:
        return {name: self.ref(name, data[name]) for name in ("owner", "contact", "company") if name in data}

    def create(self, request: Request) -> Response:
        data = self.valid(DealInputSerializer)
        if "status" in data:
            raise InvalidFields({"status": ["A new deal's status follows its stage."]})
        pipeline = self.ref("pipeline", data.get("pipeline")) or selectors.pipeline_default(
            workspace=self.workspace)
        if pipeline is None:
            raise InvalidFields({"pipeline": ["Create a pipeline first."]})
        refs = self._refs(data)
        if "owner" not in data and self.membership is not None:
            refs["owner"] = request.user
        deal = services.deal_create(
            workspace=self.workspace, actor=self.actor, pipeline=pipeline, stage=self.ref("stage", data.get("stage")),
            name=data["name"], value=data.get("value"), currency=data.get("currency", "USD"),
            expected_close_date=data.get("expected_close_date"), lost_reason=data.get("lost_reason", ""), **refs)
        return self._show(deal, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        deal = self.get_object()
        data = self.valid(DealInputSerializer, partial=True)
        for name in ("pipeline", "stage"):
            if name in data:
                raise InvalidFields({name: ["Move a deal with POST /api/v1/deals/{id}/move/."]})
        changes = {k: v for k, v in data.items() if k not in ("owner", "contact", "company")} | self._refs(data)
        deal = services.deal_update(deal=deal, actor=self.actor, changes=changes)
        return self._show(deal)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.deal_delete(deal=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=DealBulkRequestSerializer, responses=BulkResultSerializer,
        description=f"Create or update up to {MAX_BULK_ITEMS} deals. An item with `id` updates that deal (as PATCH: "
                    "stages change through `/move/`); one with an `external_id` updates the deal that has it or "
                    "creates it; the others create a deal (default pipeline and first stage unless given; owner: "
                    "you, for a session). " + BULK_DESCRIPTION,
        examples=[
            OpenApiExample("Sync from another system, and close one deal", request_only=True, value={"items": [
                {"external_id": "crm-4411", "name": "Globex renewal", "value": "12000.00", "currency": "EUR",
                 "expected_close_date": "2026-12-31", "company": 52},
                {"external_id": "crm-4412", "name": "Initech pilot", "stage": 14},
                {"id": 310, "status": "lost", "lost_reason": "Chose a competitor"},
                {"id": 311, "status": "lost"},
            ]}),
            bulk_result_example([
                {"index": 0, "status": "created", "id": 901, "errors": None},
                {"index": 1, "status": "unchanged", "id": 877, "errors": None},
                {"index": 2, "status": "updated", "id": 310, "errors": None},
                {"index": 3, "status": "error", "id": None, "errors": {"lost_reason": ["Say why the deal was lost."]}},
            ]),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        items = self.valid(DealBulkRequestSerializer)["items"]
        # As for a single create: a member's new deal is theirs unless they name an owner.
        results = services.deal_bulk_write(workspace=self.workspace, actor=self.actor, items=items,
                                           membership=self.membership,
                                           default_owner=request.user if self.membership is not None else None)
        return Response(BulkResultSerializer(bulk_summary(results)).data)

    @extend_schema(methods=["GET"], request=None, responses=StageChangeSerializer(many=True),
                   description="The deal's moves so far (its stage history), newest first.")
    @extend_schema(methods=["POST"], request=DealMoveSerializer, responses=DealSerializer,
                   description="Move the deal to a stage of its pipeline (and a place in the column). Won and "
                               "lost stages close it; lost needs `lost_reason`. The stage history keeps the move.",
                   examples=[OpenApiExample("To the next stage", request_only=True, value={"stage": 12})])
    @action(detail=True, methods=["get", "post"], url_path="move", pagination_class=None, filter_backends=[])
    def move(self, request: Request, pk: int | None = None) -> Response:
        deal = self.get_object()
        if request.method == "GET":
            return Response(StageChangeSerializer(selectors.deal_stage_history(deal=deal), many=True).data)
        data = self.valid(DealMoveSerializer)
        deal = services.deal_move_to_stage(deal=deal, stage=self.ref("stage", data["stage"]), actor=self.actor,
                                           position=data.get("position"), lost_reason=data.get("lost_reason"))
        return self._show(deal)


class LeadConversionViewSet(DealsViewSet):
    serializer_class = LeadConversionSerializer

    def workspace_queryset(self) -> Any:
        return Deal.objects.none()

    @extend_schema(request=LeadConversionSerializer, responses={201: DealSerializer},
                   description="Convert a lead: link or create its company (by e-mail domain or `company_name`), "
                               "open a deal in the first stage and mark the contact converted / opportunity — all "
                               "or nothing. 409 when the contact was converted already.",
                   examples=[OpenApiExample("Convert", request_only=True,
                                            value={"contact": 42, "deal_name": "Globex pilot", "value": "5000"})])
    def create(self, request: Request) -> Response:
        data = self.valid(LeadConversionSerializer)
        contact = self.ref("contact", data["contact"])
        deal = services.lead_convert(workspace=self.workspace, contact=contact, actor=self.actor,
                                     company_name=data.get("company_name") or None,
                                     deal_name=data.get("deal_name") or None, value=data.get("value"),
                                     pipeline=self.ref("pipeline", data.get("pipeline")),
                                     membership=self.membership)
        return self._show_deal(deal)

    def _show_deal(self, deal: Deal) -> Response:
        fresh = selectors.deal_get(workspace=self.workspace, membership=None, deal_id=deal.pk)
        return Response(DealSerializer(fresh).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    router.register("pipelines", PipelineViewSet, basename="pipeline")
    router.register("stages", StageViewSet, basename="stage")
    router.register("deals", DealViewSet, basename="deal")
    router.register("lead-conversions", LeadConversionViewSet, basename="lead-conversion")
