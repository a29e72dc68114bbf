"""The transactional send API: POST /api/v1/messages/ queues one message and answers its ledger row; GET reads the
ledger (status, provider id, error). Thin: validate, call ``message_send_transactional``, serialize."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts.api.views import CrmViewSet
from kith.messaging import selectors, services
from kith.messaging.models import Channel, Message

# Merge data is rendered into every part; a few KB is generous for an order confirmation, megabytes are abuse.
MAX_MERGE_DATA_CHARS = 64_000


class MessageSerializer(serializers.ModelSerializer):
    template_version = serializers.IntegerField(source="template_version.number", read_only=True)
    template = serializers.IntegerField(source="template_version.template_id", read_only=True)

    class Meta:
        model = Message
        fields = ["id", "channel", "contact", "source_type", "source_id", "template", "template_version",
                  "to_address", "subject", "status", "provider_message_id", "error", "attempts", "queued_at",
                  "sent_at", "finished_at"]
        read_only_fields = fields


class MessageCreateSerializer(serializers.Serializer):
    template = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    contact = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1,
                                       help_text="The recipient's contact id; or give `email`.")
    email = serializers.EmailField(required=False, help_text="The recipient's address; or give `contact`.")
    channel = serializers.ChoiceField(choices=Channel.choices, required=False,
                                      help_text="`sms` with an SMS template and `phone`; defaults to the template's.")
    phone = serializers.CharField(required=False, max_length=32,
                                  help_text="For SMS: the recipient's number in E.164 (+14155550123); or `contact`.")
    create_contact = serializers.BooleanField(default=False,
                                              help_text="Create the contact when no contact has `email`.")
    merge_data = serializers.DictField(required=False, default=dict,
                                       help_text="Values for the template: `{{ data.key }}`, and `deal`/`event`.")
    track_opens = serializers.BooleanField(default=True, help_text="Add the open pixel (if the workspace tracks opens).")
    track_clicks = serializers.BooleanField(default=True,
                                            help_text="Track link clicks (if the workspace tracks clicks).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if sum(name in attrs for name in ("contact", "email", "phone")) != 1:
            raise serializers.ValidationError({"contact": ["Give one of contact, email or phone."]})
        if "phone" in attrs and attrs.get("channel") != Channel.SMS:
            raise serializers.ValidationError({"phone": ["A phone number needs \"channel\": \"sms\"."]})
        if "email" in attrs and attrs.get("channel") == Channel.SMS:
            raise serializers.ValidationError({"email": ["An SMS goes to a phone number or a contact."]})
        if len(str(attrs.get("merge_data", {}))) > MAX_MERGE_DATA_CHARS:
            message = f"Keep merge data under {MAX_MERGE_DATA_CHARS:,} characters."
            raise serializers.ValidationError({"merge_data": [message]})
        return attrs


class MessageViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = MessageSerializer

    def workspace_queryset(self) -> Any:
        return selectors.message_list(workspace=self.workspace, membership=self.membership).select_related(
            "template_version")

    @extend_schema(request=MessageCreateSerializer, responses={201: MessageSerializer}, examples=[OpenApiExample(
        "Order confirmation", request_only=True,
        value={"template": 12, "email": "ada@example.com", "create_contact": True,
               "merge_data": {"order_id": "A-1001", "total": "42.00"}}), OpenApiExample(
        "Login code by SMS", request_only=True,
        value={"template": 14, "channel": "sms", "phone": "+14155550123", "create_contact": True,
               "merge_data": {"code": "493021"}})])
    def create(self, request: Request) -> Response:
        data = self.valid(MessageCreateSerializer)
        message = services.message_send_transactional(
            workspace=self.workspace, actor=self.actor, membership=self.membership, template_id=data["template"],
            contact_id=data.get("contact"), email=data.get("email", ""), phone=data.get("phone", ""),
            channel=data.get("channel", ""), create_contact=data["create_contact"],
            merge_data=data["merge_data"], track_opens=data["track_opens"], track_clicks=data["track_clicks"])
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


def register(router: BaseRouter) -> None:
    router.register("messages", MessageViewSet, basename="message")
