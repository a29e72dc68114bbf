"""REST API of campaigns: /api/v1/campaigns/ (create and change drafts), the state actions (schedule, unschedule,
pause, resume, cancel: POST acts, GET shows the campaign the action would act on), /stats/ (report and live
progress) and /recipients/ (the ledger rows, cursor-paginated).

An action the campaign's state does not allow is a 409 naming ``status``; bad input is a 400 naming the field."""

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
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.campaigns import selectors, services
from kith.campaigns.models import AbMetric, Campaign, CampaignStatus, ScheduleKind
from kith.contacts.api.views import CrmViewSet
from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
)
from kith.messaging.models import Message, MessageStatus

MAX_ID = 2**63 - 1


def _id(**kwargs: Any) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class VariantSerializer(serializers.Serializer):
    label = serializers.CharField(read_only=True)
    subject = StrictCharField(max_length=998, required=False, allow_blank=True,
                              help_text="Subject of this variant (blank: the template's).")
    template = _id(required=False, allow_null=True, help_text="Another e-mail template (content test).")


class CampaignSerializer(serializers.ModelSerializer):
    segments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    exclusion_segments = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    variants = VariantSerializer(many=True, read_only=True)

    class Meta:
        model = Campaign
        fields = ("id", "name", "status", "template", "template_version", "segments", "exclusion_segments",
                  "from_name", "from_email", "reply_to", "topic", "schedule_kind", "send_at", "local_date",
                  "local_time", "throttle_per_minute", "track_opens", "track_clicks", "ab_enabled",
                  "ab_sample_percent", "ab_metric", "ab_wait_minutes", "ab_decide_at", "ab_winner", "variants",
                  "audience_count", "suppressed_count", "started_at", "finished_at", "created_at", "updated_at")
        read_only_fields = fields


class CampaignInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, required=False)
    template = _id(required=False, help_text="An e-mail template; its current version is pinned when sending starts.")
    segments = serializers.ListField(child=_id(), required=False, max_length=50,
                                     help_text="Send to contacts in any of these segments.")
    exclusion_segments = serializers.ListField(child=_id(), required=False, max_length=50,
                                               help_text="…and in none of these.")
    from_name = StrictCharField(max_length=200, required=False, allow_blank=True)
    from_email = StrictEmailField(required=False, allow_blank=True)
    reply_to = StrictEmailField(required=False, allow_blank=True)
    topic = _id(required=False, allow_null=True, help_text="Subscription topic; its opt-outs are excluded.")
    throttle_per_minute = StrictIntegerField(min_value=0, max_value=services.MAX_THROTTLE, required=False,
                                             help_text="Messages per minute over all workers; 0 for no limit.")
    track_opens = StrictBooleanField(required=False)
    track_clicks = StrictBooleanField(required=False)
    ab_enabled = StrictBooleanField(required=False)
    ab_sample_percent = StrictIntegerField(min_value=1, max_value=50, required=False)
    ab_metric = serializers.ChoiceField(choices=AbMetric.choices, required=False)
    ab_wait_minutes = StrictIntegerField(min_value=1, max_value=60 * 24 * 7, required=False)
    variants = VariantSerializer(many=True, required=False, max_length=services.MAX_VARIANTS)


class ScheduleInputSerializer(serializers.Serializer):
    schedule_kind = serializers.ChoiceField(choices=ScheduleKind.choices, required=False,
                                            help_text="now (default), at `send_at`, or at `local_time` on "
                                                      "`local_date` in each recipient's timezone.")
    send_at = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601 with an offset.")
    local_date = serializers.DateField(required=False, allow_null=True)
    local_time = serializers.TimeField(required=False, allow_null=True)


class ProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    remaining = serializers.IntegerField()
    per_minute = serializers.IntegerField()
    eta_seconds = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField()
    waiting_for_ab = serializers.BooleanField()


class LinkSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    url = serializers.CharField()
    clicks = serializers.IntegerField()
    unique_clicks = serializers.IntegerField()


class ChartPointSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()


class VariantStatsSerializer(serializers.Serializer):
    label = serializers.CharField()
    subject = serializers.CharField()
    sent = serializers.IntegerField()
    opened = serializers.IntegerField()
    clicked = serializers.IntegerField()
    winner = serializers.BooleanField()


class StatsSerializer(serializers.Serializer):
    recipients = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    opened = serializers.IntegerField(help_text="Unique human opens (machine opens excluded).")
    clicked = serializers.IntegerField(help_text="Unique human clicks.")
    bounced = serializers.IntegerField()
    unsubscribed = serializers.IntegerField()
    complained = serializers.IntegerField()
    failed = serializers.IntegerField()
    suppressed = serializers.IntegerField()
    machine_opens = serializers.IntegerField()
    rates = serializers.DictField(child=serializers.FloatField(), help_text="Percent of the messages sent.")
    by_status = serializers.DictField(child=serializers.IntegerField())
    links = LinkSerializer(many=True)
    chart = ChartPointSerializer(many=True)
    variants = VariantStatsSerializer(many=True)
    progress = ProgressSerializer()


class RecipientSerializer(serializers.ModelSerializer):
    message_id = serializers.IntegerField(source="pk")

    class Meta:
        model = Message
        fields = ("message_id", "contact", "to_address", "status", "subject", "sent_at", "delivered_at", "error")
        read_only_fields = fields


_EXAMPLE = {"name": "Spring sale", "template": 3, "segments": [7], "exclusion_segments": [9], "topic": 2,
            "throttle_per_minute": 6000, "ab_enabled": True, "ab_sample_percent": 20, "ab_metric": "open",
            "ab_wait_minutes": 120, "variants": [{"subject": "Spring is here"}, {"subject": "20 % off, today"}]}
_STATUS_FILTER = OpenApiParameter("status", str, enum=MessageStatus.values, required=False,
                                  description="Only recipients whose message has this status.")


@extend_schema_view(
    list=extend_schema(description="Campaigns of the workspace, newest first.",
                       parameters=[OpenApiParameter("status", str, enum=CampaignStatus.values, required=False)]),
    retrieve=extend_schema(description="One campaign."),
    create=extend_schema(request=CampaignInputSerializer, responses={201: CampaignSerializer},
                         description="Create a draft (`name` and `template` required).",
                         examples=[OpenApiExample("A/B tested sale", value=_EXAMPLE, request_only=True)]),
    update=extend_schema(request=CampaignInputSerializer, responses=CampaignSerializer,
                         description="Change a draft (same as PATCH); 409 once it is scheduled or sending."),
    partial_update=extend_schema(request=CampaignInputSerializer, responses=CampaignSerializer,
                                 description="Change a draft; 409 once it is scheduled or sending."),
    destroy=extend_schema(description="Delete a draft; 409 otherwise (cancel instead)."),
)
class CampaignViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = CampaignSerializer
    ordering_fields = ("id",)

    def workspace_queryset(self) -> Any:
        status_filter = self.request.query_params.get("status") if self.action == "list" else None
        # An empty ?status= is a malformed filter (400), not "no filter": the document's enum has no "".
        if status_filter is not None and status_filter not in CampaignStatus.values:
            raise ValidationError({"status": [f"Use one of: {', '.join(CampaignStatus.values)}."]})
        return selectors.campaign_list(workspace=self.workspace, status=status_filter or "") \
            .prefetch_related("segments", "exclusion_segments", "variants")

    def _input(self, *, partial: bool) -> dict[str, Any]:
        data = self.valid(CampaignInputSerializer, partial=partial)
        if "variants" in data:
            data["variants"] = [dict(item) for item in data["variants"]]
        return data

    def create(self, request: Request) -> Response:
        data = self._input(partial=False)
        missing = {name: ["This field is required."] for name in ("name", "template") if name not in data}
        if missing:
            raise ValidationError(missing)
        campaign = services.campaign_create(workspace=self.workspace, actor=self.actor, data=data)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        campaign = self.get_object()
        campaign = services.campaign_update(campaign=campaign, actor=self.actor, data=self._input(partial=True))
        return Response(CampaignSerializer(campaign).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.campaign_delete(campaign=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ScheduleInputSerializer, responses=CampaignSerializer,
                   description="Schedule a draft: now (sending starts at once), at a time, or at a local time in "
                               "each recipient's timezone. 409 unless it is a draft.")
    @action(detail=True, methods=["get", "post"])
    def schedule(self, request: Request, pk: int | None = None) -> Response:
        campaign = self.get_object()
        if request.method == "GET":
            return Response(CampaignSerializer(campaign).data)
        data = self.valid(ScheduleInputSerializer)
        campaign = services.campaign_schedule(campaign=campaign, actor=self.actor, data=data)
        return Response(CampaignSerializer(campaign).data)

    def _state_action(self, service: Any) -> Response:
        if self.request.method == "GET":  # what the action would act on, with its current status
            return Response(CampaignSerializer(self.get_object()).data)
        campaign = service(campaign=self.get_object(), actor=self.actor)
        return Response(CampaignSerializer(campaign).data)

    @extend_schema(request=None, responses=CampaignSerializer, description="A scheduled campaign back to draft.")
    @action(detail=True, methods=["get", "post"])
    def unschedule(self, request: Request, pk: int | None = None) -> Response:
        return self._state_action(services.campaign_unschedule)

    @extend_schema(request=None, responses=CampaignSerializer,
                   description="Pause sending; takes effect within seconds. 409 unless sending.")
    @action(detail=True, methods=["get", "post"])
    def pause(self, request: Request, pk: int | None = None) -> Response:
        return self._state_action(services.campaign_pause)

    @extend_schema(request=None, responses=CampaignSerializer,
                   description="Continue a paused campaign where it stopped. 409 unless paused.")
    @action(detail=True, methods=["get", "post"])
    def resume(self, request: Request, pk: int | None = None) -> Response:
        return self._state_action(services.campaign_resume)

    @extend_schema(request=None, responses=CampaignSerializer,
                   description="Stop for good; unsent messages are dropped. 409 once sent or cancelled.")
    @action(detail=True, methods=["get", "post"])
    def cancel(self, request: Request, pk: int | None = None) -> Response:
        return self._state_action(services.campaign_cancel)

    @extend_schema(responses=StatsSerializer, filters=False,
                   description="Report: sent, delivered, unique opens and clicks (machines excluded), bounces, "
                               "unsubscribes, complaints with rates; clicks per link; an hourly series; A/B "
                               "variants; and the live progress.")
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk: int | None = None) -> Response:
        campaign = self.get_object()
        report = selectors.campaign_report(campaign=campaign)
        payload = {**report.__dict__, "rates": report.rates,
                   "progress": selectors.campaign_progress(campaign=campaign)}
        return Response(StatsSerializer(payload).data)

    @extend_schema(responses=RecipientSerializer(many=True), filters=False, parameters=[_STATUS_FILTER],
                   description="The campaign's recipients (ledger rows), cursor-paginated.")
    @action(detail=True, methods=["get"])
    def recipients(self, request: Request, pk: int | None = None) -> Response:
        campaign = self.get_object()
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in MessageStatus.values:
            raise ValidationError({"status": [f"Use one of: {', '.join(MessageStatus.values)}."]})
        page = self.paginate_queryset(selectors.recipient_list(campaign=campaign, status=wanted or ""))
        return self.get_paginated_response(RecipientSerializer(page, many=True).data)


def register(router: BaseRouter) -> None:
    router.register("campaigns", CampaignViewSet, basename="campaign")
