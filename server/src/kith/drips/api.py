"""REST API of drip sequences: /api/v1/sequences/ (CRUD), /{id}/activate/ and /deactivate/, /{id}/steps/ (list, add,
reorder, change, delete), /{id}/enrollments/ (cursor-paginated) and /{id}/stats/ (per step, from the ledger).
Thin: validate the JSON types, call a service or selector, serialize; services raise ``KithError`` naming the field."""

from __future__ import annotations

from typing import Any

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

from kith.contacts.api.views import CrmViewSet
from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    StrictRegexField,
)
from kith.drips import selectors, services
from kith.drips.models import Enrollment, EnrollmentState, Sequence, Step

TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d$"
_EXAMPLE = {"name": "Welcome series", "enroll_event": "Signed Up", "segment": None, "send_time": "09:00",
            "exit_events": ["Subscription Started"], "goal_segment": None, "topic": None}


class SequenceStepSerializer(serializers.ModelSerializer):
    template_name = serializers.CharField(source="template.name", read_only=True)

    class Meta:
        model = Step
        fields = ["id", "position", "day_offset", "template", "template_name"]
        read_only_fields = fields


class SequenceSerializer(serializers.ModelSerializer):
    send_time = serializers.SerializerMethodField(help_text="The recipient's local time of day, HH:MM.")
    exit_events = serializers.ListField(child=serializers.CharField(), read_only=True)
    steps = serializers.SerializerMethodField(help_text="The steps in the order they go out.")

    class Meta:
        model = Sequence
        fields = ["id", "name", "segment", "enroll_event", "is_active", "activated_at", "send_time", "exit_events",
                  "goal_segment", "topic", "steps", "created_at", "updated_at"]
        read_only_fields = fields

    def get_send_time(self, sequence: Sequence) -> str:
        return sequence.send_time.strftime("%H:%M")

    @extend_schema_field(SequenceStepSerializer(many=True))
    def get_steps(self, sequence: Sequence) -> Any:
        return SequenceStepSerializer(selectors.step_list(sequence=sequence), many=True).data


class SequenceInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, required=False)
    segment = StrictIntegerField(required=False, allow_null=True, min_value=1,
                                 help_text="Audience: contacts entering this segment enroll.")
    enroll_event = StrictCharField(required=False, allow_blank=True, max_length=services.MAX_EVENT_NAME,
                                   help_text="Audience: contacts doing this event enroll (with a segment: only its "
                                             "members).")
    send_time = StrictRegexField(TIME_PATTERN, required=False,
                                 help_text="Local time of day in the recipient's timezone, HH:MM (24-hour).")
    exit_events = serializers.ListField(child=StrictCharField(max_length=services.MAX_EVENT_NAME, allow_blank=False),
                                        required=False, max_length=services.MAX_EXIT_EVENTS,
                                        help_text="Event names that take a contact out of the sequence.")
    goal_segment = StrictIntegerField(required=False, allow_null=True, min_value=1,
                                      help_text="Entering this segment ends the sequence for the contact.")
    topic = StrictIntegerField(required=False, allow_null=True, min_value=1,
                               help_text="Subscription topic: contacts opted out of it get nothing.")


class SequenceActivateInputSerializer(serializers.Serializer):
    enroll_current_members = StrictBooleanField(required=False, default=False,
                                                help_text="Also enroll the segment's present members.")


class SequenceStepInputSerializer(serializers.Serializer):
    template = StrictIntegerField(required=False, min_value=1)
    day_offset = StrictIntegerField(required=False, min_value=0, max_value=services.MAX_DAY_OFFSET,
                                    help_text="Days after the enrollment's day 0.")


class SequenceReorderInputSerializer(serializers.Serializer):
    order = serializers.ListField(child=StrictIntegerField(min_value=1), max_length=services.MAX_STEPS,
                                  help_text="Every step id of the sequence, in the new order.")


class SequenceEnrollmentSerializer(serializers.ModelSerializer):
    contact_email = serializers.CharField(source="contact.email", read_only=True)

    class Meta:
        model = Enrollment
        fields = ["id", "contact", "contact_email", "state", "exit_reason", "enrolled_at", "anchor_date",
                  "next_step", "wake_at", "finished_at"]
        read_only_fields = fields


class SequenceStepStatsSerializer(serializers.Serializer):
    step = serializers.IntegerField()
    position = serializers.IntegerField()
    day_offset = serializers.IntegerField()
    template = serializers.IntegerField()
    template_name = serializers.CharField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    queued = serializers.IntegerField()
    open_rate = serializers.FloatField()
    click_rate = serializers.FloatField()


class SequenceEnrollmentCountsSerializer(serializers.Serializer):
    active = serializers.IntegerField()
    completed = serializers.IntegerField()
    exited = serializers.IntegerField()


class SequenceStatsSerializer(serializers.Serializer):
    steps = SequenceStepStatsSerializer(many=True)
    enrollments = SequenceEnrollmentCountsSerializer()


@extend_schema_view(
    list=extend_schema(description="Drip sequences of the workspace, newest first."),
    retrieve=extend_schema(description="One sequence with its steps."),
    create=extend_schema(request=SequenceInputSerializer, responses={201: SequenceSerializer},
                         description="Create an inactive sequence (`name` required). Add steps, then activate it.",
                         examples=[OpenApiExample("Welcome series", value=_EXAMPLE, request_only=True)]),
    update=extend_schema(request=SequenceInputSerializer, responses=SequenceSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=SequenceInputSerializer, responses=SequenceSerializer,
                                 description="Change the fields given."),
    destroy=extend_schema(description="Delete the sequence, its steps and enrollments (sent messages stay)."),
)
class SequenceViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = SequenceSerializer
    ordering_fields = ["id"]

    def workspace_queryset(self) -> Any:
        return selectors.sequence_list(workspace=self.workspace)

    def _sequence(self) -> Sequence:
        return selectors.sequence_get(workspace=self.workspace, sequence_id=self.get_object().pk)

    def _out(self, sequence: Sequence, code: int = status.HTTP_200_OK) -> Response:
        return Response(SequenceSerializer(sequence).data, status=code)

    def create(self, request: Request) -> Response:
        data = self.valid(SequenceInputSerializer)
        if "name" not in data:
            raise ValidationError({"name": ["This field is required."]})
        sequence = services.sequence_create(workspace=self.workspace, actor=self.actor, data=data)
        return self._out(sequence, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        data = self.valid(SequenceInputSerializer, partial=True)
        return self._out(services.sequence_update(sequence=sequence, actor=self.actor, data=data))

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.sequence_delete(sequence=self._sequence(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(methods=["GET"], request=None, responses=SequenceSerializer, description="The sequence.")
    @extend_schema(methods=["POST"], request=SequenceActivateInputSerializer, responses=SequenceSerializer,
                   description="Switch the sequence on (it needs a step and an audience). Contacts entering the "
                               "segment or doing the event from now on enroll; `enroll_current_members` enrolls "
                               "the segment's present members too.")
    @action(detail=True, methods=["get", "post"], url_path="activate", pagination_class=None, filter_backends=[])
    def activate(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        if request.method == "GET":
            return self._out(sequence)
        data = self.valid(SequenceActivateInputSerializer)
        return self._out(services.sequence_activate(sequence=sequence, actor=self.actor,
                                                    enroll_current_members=data["enroll_current_members"]))

    @extend_schema(methods=["GET"], request=None, responses=SequenceSerializer, description="The sequence.")
    @extend_schema(methods=["POST"], request=None, responses=SequenceSerializer,
                   description="Switch the sequence off: nobody enrolls, nothing is sent; enrollments keep their "
                               "place.")
    @action(detail=True, methods=["get", "post"], url_path="deactivate", pagination_class=None, filter_backends=[])
    def deactivate(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        if request.method == "GET":
            return self._out(sequence)
        return self._out(services.sequence_deactivate(sequence=sequence, actor=self.actor))

    @extend_schema(methods=["GET"], responses=SequenceStepSerializer(many=True), filters=False,
                   description="The steps in the order they go out.")
    @extend_schema(methods=["POST"], request=SequenceStepInputSerializer, responses={201: SequenceStepSerializer},
                   description="Append a step (`template` and `day_offset` required). Days must not go backwards.")
    @action(detail=True, methods=["get", "post"], url_path="steps", pagination_class=None, filter_backends=[])
    def steps(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        if request.method == "GET":
            return Response(SequenceStepSerializer(selectors.step_list(sequence=sequence), many=True).data)
        data = self.valid(SequenceStepInputSerializer)
        missing = {name: ["This field is required."] for name in ("template", "day_offset") if name not in data}
        if missing:
            raise ValidationError(missing)
        step = services.step_create(sequence=sequence, actor=self.actor, data=data)
        return Response(SequenceStepSerializer(step).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], request=None, responses=SequenceStepSerializer, description="One step.")
    @extend_schema(methods=["PATCH"], request=SequenceStepInputSerializer, responses=SequenceStepSerializer,
                   description="Change a step's template and/or day; contacts waiting on it are re-timed.")
    @extend_schema(methods=["DELETE"], request=None, responses={204: None},
                   description="Delete a step; contacts waiting on it move on to the next one.")
    @action(detail=True, methods=["get", "patch", "delete"], url_path=r"steps/(?P<step_id>[0-9]+)",
            url_name="step-detail", pagination_class=None, filter_backends=[])
    def step_detail(self, request: Request, pk: int | None = None, step_id: str = "") -> Response:
        sequence = self._sequence()
        step = selectors.step_get(sequence=sequence, step_id=step_id)
        if request.method == "GET":
            return Response(SequenceStepSerializer(step).data)
        if request.method == "DELETE":
            services.step_delete(step=step, actor=self.actor)
            return Response(status=status.HTTP_204_NO_CONTENT)
        data = self.valid(SequenceStepInputSerializer, partial=True)
        return Response(SequenceStepSerializer(services.step_update(step=step, actor=self.actor, data=data)).data)

    @extend_schema(methods=["GET"], request=None, responses=SequenceStepSerializer(many=True),
                   description="The steps in their current order.")
    @extend_schema(methods=["POST"], request=SequenceReorderInputSerializer, responses=SequenceStepSerializer(many=True),
                   description="Put the steps in a new order (every step id once); days must stay in order.")
    @action(detail=True, methods=["get", "post"], url_path="steps/reorder", url_name="steps-reorder",
            pagination_class=None, filter_backends=[])
    def steps_reorder(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        if request.method == "GET":
            return Response(SequenceStepSerializer(selectors.step_list(sequence=sequence), many=True).data)
        data = self.valid(SequenceReorderInputSerializer)
        services.steps_reorder(sequence=sequence, actor=self.actor, order=data["order"])
        return Response(SequenceStepSerializer(selectors.step_list(sequence=sequence), many=True).data)

    @extend_schema(responses=SequenceEnrollmentSerializer(many=True), filters=False,
                   parameters=[OpenApiParameter("state", enum=EnrollmentState.values, required=False,
                                                description="Only enrollments in this state.")],
                   description="The sequence's enrollments of contacts you may see, newest first (cursor-paginated).")
    @action(detail=True, methods=["get"], url_path="enrollments")
    def enrollments(self, request: Request, pk: int | None = None) -> Response:
        sequence = self._sequence()
        states = request.query_params.getlist("state")
        if len(states) > 1 or (states and states[0] not in EnrollmentState.values):
            raise ValidationError({"state": [f"Give one of: {', '.join(EnrollmentState.values)}."]})
        rows = selectors.enrollment_list(sequence=sequence, membership=self.membership,
                                         state=states[0] if states else None)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(SequenceEnrollmentSerializer(page, many=True).data)

    @extend_schema(responses=SequenceStatsSerializer, filters=False,
                   description="Per step: messages sent, opened, clicked (with rates), suppressed and still queued, "
                               "from the message ledger; and enrollments by state.")
    @action(detail=True, methods=["get"], url_path="stats", pagination_class=None, filter_backends=[])
    def stats(self, request: Request, pk: int | None = None) -> Response:
        return Response(SequenceStatsSerializer(selectors.sequence_stats(sequence=self._sequence())).data)


def register(router: BaseRouter) -> None:
    router.register("sequences", SequenceViewSet, basename="sequence")
