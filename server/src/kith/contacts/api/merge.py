"""REST endpoints of duplicates and merges:

- ``GET /contacts/duplicates/`` likely duplicate pairs; ``POST /contacts/duplicates/dismiss/`` "not a duplicate";
- ``GET /contacts/{id}/merge/`` this contact's likely duplicates; ``POST`` merges another contact into it;
- ``GET /contact-merges/`` the merge history; ``GET /contact-merges/{id}/undo/`` whether it can be undone,
  ``POST`` undoes it (409 when that is no longer safe).
"""

from __future__ import annotations

from typing import Any

from django.urls import path
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from kith.contacts import duplicates, selectors, services
from kith.core.api_fields import StrictIntegerField
from kith.contacts.api.serializers import MAX_ID, ContactSerializer
from kith.contacts.api.views import CrmViewSet
from kith.contacts.models import ContactMerge
from kith.contacts.services.merge import CHOICES, MERGE_FIELDS


class DuplicateContactSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.CharField()
    phone = serializers.CharField()
    company = serializers.IntegerField(source="company_id", allow_null=True)
    company_name = serializers.CharField(source="company.name", default=None, allow_null=True)


class DuplicatePairSerializer(serializers.Serializer):
    first = DuplicateContactSerializer()
    second = DuplicateContactSerializer()
    reasons = serializers.ListField(child=serializers.ChoiceField(choices=list(duplicates.REASON_LABELS)))


class DuplicateListSerializer(serializers.Serializer):
    results = DuplicatePairSerializer(many=True)


class DismissSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=StrictIntegerField(min_value=1, max_value=MAX_ID), min_length=2,
                                     max_length=2, help_text="The ids of the two contacts that are not one person.")


class MergeRequestSerializer(serializers.Serializer):
    loser = StrictIntegerField(min_value=1, max_value=MAX_ID,
                               help_text="The duplicate to merge into this contact; it is deleted.")
    fields = serializers.DictField(
        child=serializers.ChoiceField(choices=CHOICES), required=False,
        help_text="Per field, whose value to keep: `winner` (this contact) or `loser`. Fields left out keep this "
                  "contact's value unless it is empty; an opt-out on either side wins; `attributes` are combined "
                  f"(the side named here wins keys both have). Fields: {', '.join((*MERGE_FIELDS, 'attributes'))}.",
    )


    def validate_fields(self, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {*MERGE_FIELDS, "attributes"})
        if unknown:
            raise serializers.ValidationError(f"Not fields that can be chosen: {', '.join(unknown)[:200]}.")
        return value


class ContactMergeSerializer(serializers.ModelSerializer):
    winner = serializers.IntegerField(source="winner_id", allow_null=True,
                                      help_text="The contact merged into; null once it is deleted or merged away.")
    merged_by = serializers.CharField(source="merged_by.email", default=None, allow_null=True)
    moved = serializers.SerializerMethodField(help_text="Rows moved to the winner, counted per relation.")
    set_aside = serializers.SerializerMethodField(
        help_text="Rows of the duplicate that the winner already had an equal of (a tag, a campaign message): "
                  "kept in this record and restored by undo.")

    class Meta:
        model = ContactMerge
        fields = ["id", "winner", "loser_id", "loser_label", "winner_changes", "moved", "set_aside", "merged_by",
                  "created_at", "undone_at"]

    def get_moved(self, merge: ContactMerge) -> dict[str, int]:
        return {key: len(ids) for key, ids in merge.moved.items()}

    def get_set_aside(self, merge: ContactMerge) -> list[dict[str, Any]]:
        return [{"model": row["model"], "id": row["pk"]} for row in merge.set_aside]


class MergeResultSerializer(serializers.Serializer):
    merge = ContactMergeSerializer()
    contact = ContactSerializer()


class UndoStatusSerializer(serializers.Serializer):
    can_undo = serializers.BooleanField()
    reason = serializers.CharField(allow_null=True)


class DuplicateViewSet(CrmViewSet):
    """Likely duplicate contacts among those the caller may see."""

    pagination_class = None
    filter_backends: list[Any] = []

    @extend_schema(
        parameters=[OpenApiParameter("contact", int, description="Only pairs that include this contact."),
                    OpenApiParameter("limit", int, description=f"At most this many pairs (1–{duplicates.MAX_PAIRS}).")],
        responses=DuplicateListSerializer,
        description="Likely duplicate pairs, strongest first, without pairs dismissed as not duplicates.",
    )
    def pairs(self, request: Request) -> Response:
        contact = None
        # A parameter given empty is a 400 like any other malformed integer, not "absent".
        if "contact" in self.request.query_params:
            contact = selectors.contact_get(workspace=self.workspace, membership=self.membership,
                                            contact_id=self._int("contact", self._param("contact"), MAX_ID))
        limit = duplicates.MAX_PAIRS
        if "limit" in self.request.query_params:
            limit = self._int("limit", self._param("limit"), duplicates.MAX_PAIRS)
        pairs = duplicates.duplicate_pairs(workspace=self.workspace, membership=self.membership, contact=contact,
                                           limit=limit)
        return Response(DuplicateListSerializer({"results": pairs}).data)

    @extend_schema(request=DismissSerializer, responses={204: None},
                   description="Remember that two contacts are different people; the pair is no longer listed.",
                   examples=[OpenApiExample("Not the same", request_only=True, value={"contacts": [12, 40]})])
    def dismiss(self, request: Request) -> Response:
        first_id, second_id = self.valid(DismissSerializer)["contacts"]
        first, second = (selectors.contact_get(workspace=self.workspace, membership=self.membership, contact_id=pk)
                         for pk in (first_id, second_id))
        services.duplicate_dismiss(first=first, second=second, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _param(self, name: str) -> str:
        values = self.request.query_params.getlist(name)
        if len(values) > 1:
            raise ValidationError({name: ["Give this parameter once."]})
        return values[0] if values else ""

    @staticmethod
    def _int(name: str, raw: str, maximum: int) -> int:
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= maximum:
            raise ValidationError({name: [f"Give a whole number from 1 to {maximum}."]})
        return int(raw)


class ContactMergeActionViewSet(DuplicateViewSet):
    """``/contacts/{id}/merge/``: the contact's likely duplicates (GET) and merging one into it (POST)."""

    @extend_schema(responses=DuplicateListSerializer, description="This contact's likely duplicates.")
    def candidates(self, request: Request, pk: int) -> Response:
        contact = selectors.contact_get(workspace=self.workspace, membership=self.membership, contact_id=pk)
        pairs = duplicates.duplicate_pairs(workspace=self.workspace, membership=self.membership, contact=contact)
        return Response(DuplicateListSerializer({"results": pairs}).data)

    @extend_schema(
        request=MergeRequestSerializer, responses={200: MergeResultSerializer},
        description="Merge the `loser` contact into this one: its timeline, deals, tags, messages and every other "
                    "related row move here, empty fields are filled, and the loser is deleted. Recorded, and "
                    "reversible with `POST /contact-merges/{id}/undo/`.",
        examples=[OpenApiExample("Keep the duplicate's e-mail address", request_only=True,
                                 value={"loser": 40, "fields": {"email": "loser"}})],
    )
    def merge(self, request: Request, pk: int) -> Response:
        winner = selectors.contact_get(workspace=self.workspace, membership=self.membership, contact_id=pk)
        data = self.valid(MergeRequestSerializer)
        loser = selectors.contact_get(workspace=self.workspace, membership=self.membership, contact_id=data["loser"])
        merge = services.contact_merge(winner=winner, loser=loser, actor=self.actor,
                                       field_choices=data.get("fields"), membership=self.membership)
        fresh = selectors.contact_get(workspace=self.workspace, membership=None, contact_id=winner.pk)
        return Response(MergeResultSerializer({"merge": merge, "contact": fresh}).data)


class ContactMergeViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The workspace's merges, newest first (only those whose winner the caller may see)."""

    serializer_class = ContactMergeSerializer
    search_fields: list[str] = []
    ordering_fields = ["id", "created_at"]

    def workspace_queryset(self) -> Any:
        visible = selectors.contact_list(workspace=self.workspace, membership=self.membership).values("pk")
        merges = ContactMerge.objects.for_workspace(self.workspace).select_related("merged_by").order_by("-id")
        if selectors.sees_only_own(self.membership):
            merges = merges.filter(winner__in=visible)
        return merges

    @extend_schema(methods=["GET"], request=None, responses=UndoStatusSerializer,
                   description="Whether the merge can be undone now, and if not, why.")
    @extend_schema(methods=["POST"], request=None, responses={200: ContactSerializer},
                   description="Undo the merge: the merged contact comes back with its id, fields and rows; the "
                               "other contact gets back the values the merge changed. 409 when that is no longer "
                               "safe (already undone; the other contact deleted or merged away since; its e-mail "
                               "address taken meanwhile). Answers the restored contact.")
    @action(detail=True, methods=["get", "post"], url_path="undo")
    def undo(self, request: Request, pk: int | None = None) -> Response:
        merge = self.get_object()
        if request.method == "GET":
            reason = services.merge_undo_blocker(merge)
            return Response(UndoStatusSerializer({"can_undo": reason is None, "reason": reason}).data)
        restored = services.contact_merge_undo(merge=merge, actor=self.actor, membership=self.membership)
        fresh = selectors.contact_get(workspace=self.workspace, membership=None, contact_id=restored.pk)
        return Response(ContactSerializer(fresh).data)


urlpatterns = [
    path("contacts/duplicates/", DuplicateViewSet.as_view({"get": "pairs"}), name="contact-duplicates"),
    path("contacts/duplicates/dismiss/", DuplicateViewSet.as_view({"post": "dismiss"}),
         name="contact-duplicates-dismiss"),
    path("contacts/<int:pk>/merge/", ContactMergeActionViewSet.as_view({"get": "candidates", "post": "merge"}),
         name="contact-merge"),
]
