"""REST API of workflows: /api/v1/workflows/ (CRUD, activate, pause, validate, enroll, runs, funnel) and
/api/v1/workflow-runs/ (runs with their steps, filterable by workflow and contact). Any member reads; owners,
admins and managers (or a key with write scope) change workflows, since one workflow can message every contact."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet, ManagesVocabulary
from kith.core.api_fields import StrictCharField, StrictIntegerField
from kith.workflows import selectors, services
from kith.workflows.definition import STEP_KINDS, definition_validate
from kith.workflows.models import ReentryRule, Run, RunStep, TriggerKind, Workflow

DEFINITION_HELP = (
    "`{\"steps\": [...]}`; the first step is where a run starts. Each step has an `id`, a `kind` (one of "
    + ", ".join(f"`{kind}`" for kind in STEP_KINDS)
    + ") and its settings, and names where the run goes next (`next`; `if_else`: `then`/`else`; `split`: "
    "`branches[].next`; `wait_event`: `next` when the event arrives, `timeout_next` otherwise). Errors are keyed "
    "`definition.steps.<step id>.<setting>`. See docs/workflows.md for every kind's settings."
)
_EXAMPLE = {
    "name": "Abandoned purchase chase",
    "trigger_kind": "event",
    "trigger_config": {"event": "Purchase Abandoned", "filters": [{"property": "total", "op": "gt", "value": 1000}]},
    "goal_event": "Purchase Completed",
    "reentry": "interval", "reentry_days": 7,
    "definition": {"steps": [
        {"id": "wait", "kind": "wait_event", "event": "Purchase Completed", "timeout": {"minutes": 30},
         "next": None, "timeout_next": "sms"},
        {"id": "sms", "kind": "send_sms", "template": 7},
    ]},
}


class WorkflowSerializer(serializers.ModelSerializer):
    version = serializers.SerializerMethodField()
    definition = serializers.SerializerMethodField()

    class Meta:
        model = Workflow
        fields = ["id", "name", "description", "status", "trigger_kind", "trigger_config", "entry_condition",
                  "reentry", "reentry_days", "goal_event", "version", "definition", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field({"type": "integer", "nullable": True, "description": "The current version's number."})
    def get_version(self, workflow: Workflow) -> int | None:
        return workflow.current_version.number if workflow.current_version else None

    @extend_schema_field({"type": "object", "nullable": True, "description": "The current version's steps."})
    def get_definition(self, workflow: Workflow) -> Any:
        return workflow.current_version.definition if workflow.current_version else None


class WorkflowInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, required=False)
    description = StrictCharField(max_length=2000, required=False, allow_blank=True)
    trigger_kind = serializers.ChoiceField(choices=TriggerKind.choices, required=False)
    trigger_config = serializers.JSONField(required=False)
    entry_condition = serializers.JSONField(required=False, allow_null=True)
    reentry = serializers.ChoiceField(choices=ReentryRule.choices, required=False)
    reentry_days = StrictIntegerField(min_value=0, max_value=services.MAX_REENTRY_DAYS, required=False)
    goal_event = StrictCharField(max_length=255, required=False, allow_blank=True)
    definition = serializers.JSONField(required=False, help_text=DEFINITION_HELP)


class DefinitionInputSerializer(serializers.Serializer):
    definition = serializers.JSONField(help_text=DEFINITION_HELP)


class ValidSerializer(serializers.Serializer):
    valid = serializers.BooleanField()


class EnrollInputSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=StrictIntegerField(min_value=1), min_length=1,
                                     max_length=services.MAX_MANUAL_ENROLL)


class EnrolledSerializer(serializers.Serializer):
    entered = serializers.IntegerField(help_text="Contacts that entered (the entry condition and re-entry rule "
                                                 "may keep some out).")


class RunStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = RunStep
        fields = ["step_id", "seq", "kind", "state", "attempts", "result", "executed_at"]
        read_only_fields = fields


class RunSerializer(serializers.ModelSerializer):
    workflow_name = serializers.CharField(source="workflow.name", read_only=True)
    version = serializers.IntegerField(source="version.number", read_only=True)
    steps = RunStepSerializer(many=True, read_only=True)

    class Meta:
        model = Run
        fields = ["id", "workflow", "workflow_name", "version", "contact", "state", "current_step", "wake_at",
                  "waiting_for_event", "attempts", "last_error", "started_at", "finished_at", "steps"]
        read_only_fields = fields


class FunnelStepSerializer(serializers.Serializer):
    step_id = serializers.CharField()
    kind = serializers.CharField()
    executed = serializers.IntegerField(help_text="Runs that executed this step at least once.")
    waiting = serializers.IntegerField(help_text="Runs waiting at this step now.")


class FunnelSerializer(serializers.Serializer):
    entered = serializers.IntegerField()
    running = serializers.IntegerField()
    waiting = serializers.IntegerField()
    completed = serializers.IntegerField()
    goal_reached = serializers.IntegerField()
    exited = serializers.IntegerField()
    failed = serializers.IntegerField()
    steps = FunnelStepSerializer(many=True)


class WorkflowWriters(ManagesVocabulary):
    pass


@extend_schema_view(
    list=extend_schema(description="Workflows of the workspace, newest first."),
    retrieve=extend_schema(description="One workflow with its current definition."),
    create=extend_schema(request=WorkflowInputSerializer, responses={201: WorkflowSerializer},
                         description="Create a draft workflow (`name` required). " + DEFINITION_HELP,
                         examples=[OpenApiExample("Abandoned purchase", value=_EXAMPLE, request_only=True)]),
    update=extend_schema(request=WorkflowInputSerializer, responses=WorkflowSerializer,
                         description="Change the fields given (same as PATCH). A changed `definition` becomes a new "
                                     "version; runs already going keep the version they started on."),
    partial_update=extend_schema(request=WorkflowInputSerializer, responses=WorkflowSerializer,
                                 description="Change the fields given."),
    destroy=extend_schema(description="Delete the workflow and its run history; refused (409) while runs are going."),
)
class WorkflowViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = WorkflowSerializer
    ordering_fields = ["id"]
    permission_classes = [*CrmViewSet.permission_classes, WorkflowWriters]

    def workspace_queryset(self) -> Any:
        return selectors.workflow_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        data = self.valid(WorkflowInputSerializer)
        if "name" not in data:
            raise ValidationError({"name": ["This field is required."]})
        workflow = services.workflow_create(workspace=self.workspace, actor=self.actor, data=data)
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        workflow = self.get_object()
        data = self.valid(WorkflowInputSerializer, partial=True)
        workflow = services.workflow_update(workflow=workflow, actor=self.actor, data=data)
        return Response(WorkflowSerializer(workflow).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.workflow_delete(workflow=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], responses=WorkflowSerializer, description="The workflow (its status).")
    @extend_schema(methods=["POST"], request=None, responses=WorkflowSerializer,
                   description="Start enrolling contacts on the trigger. Needs steps; re-checks the trigger and "
                               "steps (a template may have been deleted since the save).")
    @action(detail=True, methods=["get", "post"], url_path="activate", pagination_class=None, filter_backends=[])
    def activate(self, request: Request, pk: int | None = None) -> Response:
        if request.method == "GET":
            return Response(WorkflowSerializer(self.get_object()).data)
        workflow = services.workflow_activate(workflow=self.get_object(), actor=self.actor)
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(methods=["GET"], responses=WorkflowSerializer, description="The workflow (its status).")
    @extend_schema(methods=["POST"], request=None, responses=WorkflowSerializer,
                   description="Stop enrolling new contacts; runs already going continue.")
    @action(detail=True, methods=["get", "post"], url_path="pause", pagination_class=None, filter_backends=[])
    def pause(self, request: Request, pk: int | None = None) -> Response:
        if request.method == "GET":
            return Response(WorkflowSerializer(self.get_object()).data)
        workflow = services.workflow_pause(workflow=self.get_object(), actor=self.actor)
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(request=DefinitionInputSerializer, responses=ValidSerializer,
                   description="Check a definition without saving it (the builder's live check). An invalid one is "
                               "a 400 whose fields name each bad step.")
    @action(detail=False, methods=["post"], url_path="validate")
    def validate(self, request: Request) -> Response:
        definition = self.valid(DefinitionInputSerializer)["definition"]
        definition_validate(workspace=self.workspace, definition=definition)
        return Response({"valid": True})

    @extend_schema(methods=["GET"], responses=WorkflowSerializer, description="The workflow to enroll into.")
    @extend_schema(methods=["POST"], request=EnrollInputSerializer, responses=EnrolledSerializer,
                   description="Enroll contacts by hand (also a test run of a draft for one contact). The entry "
                               "condition and re-entry rule apply.")
    @action(detail=True, methods=["get", "post"], url_path="enroll", pagination_class=None, filter_backends=[])
    def enroll(self, request: Request, pk: int | None = None) -> Response:
        workflow = self.get_object()
        if request.method == "GET":
            return Response(WorkflowSerializer(workflow).data)
        contacts = self.valid(EnrollInputSerializer)["contacts"]
        entered = services.workflow_enroll(workflow=workflow, actor=self.actor, contact_ids=contacts)
        return Response({"entered": entered})

    @extend_schema(responses=RunSerializer(many=True), filters=False,
                   description="This workflow's runs (of contacts you may see), newest first, with their steps.")
    @action(detail=True, methods=["get"], url_path="runs")
    def runs(self, request: Request, pk: int | None = None) -> Response:
        workflow = self.get_object()
        runs = selectors.run_list(workspace=self.workspace, membership=self.membership, workflow=workflow)
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(responses=FunnelSerializer, filters=False,
                   description="Entered; how many runs are in each state; per step, how many executed it and how "
                               "many wait there now.")
    @action(detail=True, methods=["get"], url_path="funnel")
    def funnel(self, request: Request, pk: int | None = None) -> Response:
        return Response(FunnelSerializer(selectors.workflow_funnel(workflow=self.get_object())).data)


@extend_schema_view(
    list=extend_schema(description="Workflow runs of contacts you may see, newest first, with their steps.",
                       parameters=[OpenApiParameter("contact", OpenApiTypes.INT, description="Only this contact's."),
                                   OpenApiParameter("workflow", OpenApiTypes.INT,
                                                    description="Only this workflow's.")]),
    retrieve=extend_schema(description="One run with its steps."),
)
class RunViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = RunSerializer
    ordering_fields = ["id"]

    def workspace_queryset(self) -> Any:
        runs = selectors.run_list(workspace=self.workspace, membership=self.membership)
        if self.action != "list":
            return runs
        filters: dict[str, int] = {}
        for name in ("contact", "workflow"):
            values = self.request.query_params.getlist(name)
            if not values:
                continue
            if len(values) > 1 or not values[0].isdigit() or len(values[0]) > 18:
                raise ValidationError({name: ["Give one id."]})
            filters[f"{name}_id"] = int(values[0])
        return runs.filter(**filters)


def register(router: BaseRouter) -> None:
    router.register("workflows", WorkflowViewSet, basename="workflow")
    router.register("workflow-runs", RunViewSet, basename="workflow-run")

