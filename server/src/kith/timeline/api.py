"""REST API of the timeline: /api/v1/activities/.

Lists the entries of a contact, company or deal (``?contact=``, ``?company=``, ``?deal=``, ``?kind=``), newest
first with cursor pagination, and logs, edits and deletes notes, calls and meetings. Thin: references resolve
through the selectors (a member limited to their own records cannot attach an entry to, or read the entries of,
records they do not see), the services sanitize the text and write the audit row. System entries (messages,
events, stage changes, ...) are read-only here, as in the UI.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.contacts import selectors as contact_selectors
from kith.contacts.api.views import CrmViewSet
from kith.contacts.errors import InvalidFields
from kith.contacts.filters import IdFilter, StrictFilterSet, UtcDateTimeFilter
from kith.core.api import CursorPagination
from kith.core.api_fields import StrictCharField, StrictIntegerField
from kith.core.errors import NotFound
from kith.deals import selectors as deal_selectors
from kith.timeline import selectors, services
from kith.timeline.models import (
    MANUAL_KIND_CHOICES,
    MANUAL_KINDS,
    Activity,
    ActivityKind,
)

MAX_ID = 2**63 - 1
BODY_HELP = ("HTML; kept tags: p, br, strong, b, em, i, u, s, ul, ol, li, a (http, https, mailto, tel links), "
             "blockquote, code, pre, h3, h4. Everything else (scripts, styles, event handlers) is removed.")


def _id(help_text: str) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text=help_text)


class ActivitySerializer(serializers.ModelSerializer):
    actor_email = serializers.CharField(source="actor.email", read_only=True, allow_null=True, default=None)
    body = serializers.CharField(read_only=True, help_text="Sanitized HTML for notes, calls and meetings.")
    editable = serializers.SerializerMethodField(help_text="Whether this is a note, call or meeting (which can be "
                                                           "changed); system entries are history.")

    class Meta:
        model = Activity
        fields = ["id", "kind", "title", "body", "data", "contact", "company", "deal", "actor", "actor_email",
                  "editable", "occurred_at", "created_at", "updated_at"]
        read_only_fields = fields

    def get_editable(self, activity: Activity) -> bool:
        return activity.kind in MANUAL_KINDS


class ActivityCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MANUAL_KIND_CHOICES)
    title = StrictCharField(max_length=255, allow_blank=True, required=False,
                            help_text="The kind's name (Note, Call, Meeting) when left out or blank.")
    body = StrictCharField(max_length=services.NOTE_MAX_CHARS, allow_blank=True, required=False, help_text=BODY_HELP)
    contact = _id("A contact you may see. The entry also shows on its company, unless `company` is given.")
    company = _id("A company you may see.")
    deal = _id("A deal you may see. The entry also shows on its contact and company, unless given.")
    occurred_at = serializers.DateTimeField(required=False, help_text="When it happened (ISO 8601 with an offset); "
                                                                      "now when left out.")


class ActivityUpdateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=MANUAL_KIND_CHOICES, required=False)
    title = StrictCharField(max_length=255, allow_blank=True, required=False)
    body = StrictCharField(max_length=services.NOTE_MAX_CHARS, allow_blank=True, required=False, help_text=BODY_HELP)
    occurred_at = serializers.DateTimeField(required=False)


class ActivityFilter(StrictFilterSet):
    multi_value_params = frozenset({"kind"})

    contact = IdFilter(field_name="contact_id", help_text="Entries on this contact's timeline.")
    company = IdFilter(field_name="company_id", help_text="Entries on this company's timeline.")
    deal = IdFilter(field_name="deal_id", help_text="Entries on this deal's timeline.")
    kind = django_filters.MultipleChoiceFilter(choices=ActivityKind.choices,
                                               help_text="Only these kinds; repeat the parameter for several.")
    occurred_after = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Activity
        fields: list[str] = []


class TimelinePagination(CursorPagination):
    """Newest first, as the detail pages show a timeline; the id breaks ties between entries of the same instant."""

    ordering = ("-occurred_at", "-id")


_NOTE_EXAMPLE = {"kind": "note", "title": "Pricing call recap", "contact": 42,
                 "body": "<p>Wants <strong>annual</strong> billing; send the revised quote.</p>"}
_CALL_EXAMPLE = {"kind": "call", "title": "Discovery call", "deal": 17, "occurred_at": "2026-11-20T15:30:00+01:00",
                 "body": "<ul><li>Budget approved</li><li>Decision in December</li></ul>"}
_ENTRY_EXAMPLE = {"id": 5120, "kind": "note", "title": "Pricing call recap",
                  "body": "<p>Wants <strong>annual</strong> billing; send the revised quote.</p>", "data": {},
                  "contact": 42, "company": 9, "deal": None, "actor": 7, "actor_email": "alice@example.com",
                  "editable": True, "occurred_at": "2026-11-20T14:03:11Z", "created_at": "2026-11-20T14:03:11Z",
                  "updated_at": "2026-11-20T14:03:11Z"}


@extend_schema_view(
    list=extend_schema(
        description="Timeline entries newest first: notes, calls and meetings people logged and everything the "
                    "system recorded (messages, events, stage changes, workflow steps). Filter by subject with "
                    "`?contact=`, `?company=` or `?deal=`, and by `?kind=` (repeatable). Restricted reps see the "
                    "entries of the records they own.",
        examples=[OpenApiExample("A contact's timeline", response_only=True,
                                 value={"next": "https://kith.example.com/api/v1/activities/?contact=42&cursor=cD0y",
                                        "previous": None, "results": [_ENTRY_EXAMPLE]})],
    ),
    retrieve=extend_schema(description="One timeline entry.",
                           examples=[OpenApiExample("A note", response_only=True, value=_ENTRY_EXAMPLE)]),
    create=extend_schema(
        request=ActivityCreateSerializer, responses={201: ActivitySerializer},
        description="Log a note, call or meeting on a contact, company and/or deal. The body is sanitized HTML.",
        examples=[OpenApiExample("A note on a contact", request_only=True, value=_NOTE_EXAMPLE),
                  OpenApiExample("A call on a deal", request_only=True, value=_CALL_EXAMPLE),
                  OpenApiExample("The logged entry", response_only=True, status_codes=["201"],
                                 value=_ENTRY_EXAMPLE)],
    ),
    update=extend_schema(request=ActivityUpdateSerializer, responses=ActivitySerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(
        request=ActivityUpdateSerializer, responses=ActivitySerializer,
        description="Change a note, call or meeting (its author, or an owner, admin or manager). System entries "
                    "answer 400; the subjects an entry is attached to do not change.",
        examples=[OpenApiExample("Correct a note", request_only=True,
                                 value={"body": "<p>Wants <em>monthly</em> billing after all.</p>"})],
    ),
    destroy=extend_schema(description="Delete a note, call or meeting (its author, or an owner, admin or manager)."),
)
class ActivityViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = ActivitySerializer
    filterset_class = ActivityFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = TimelinePagination

    def workspace_queryset(self) -> Any:
        return selectors.activity_list(workspace=self.workspace, membership=self.membership)

    def _show(self, activity: Activity, code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.activity_get(workspace=self.workspace, membership=None, activity_id=activity.pk)
        return Response(ActivitySerializer(fresh).data, status=code)

    def _subjects(self, data: dict[str, Any]) -> dict[str, Any]:
        """The contact, company and deal named, each one the caller may see (else a 400 naming it), plus the
        links the UI adds: a deal's contact and company, a contact's company."""
        found: dict[str, Any] = {}
        getters = {
            "contact": lambda pk: contact_selectors.contact_get(workspace=self.workspace,
                                                                membership=self.membership, contact_id=pk),
            "company": lambda pk: contact_selectors.company_get(workspace=self.workspace,
                                                                membership=self.membership, company_id=pk),
            "deal": lambda pk: deal_selectors.deal_get(workspace=self.workspace, membership=self.membership,
                                                       deal_id=pk),
        }
        errors: dict[str, list[str]] = {}
        for name, get in getters.items():
            if data.get(name) is None:
                continue
            try:
                found[name] = get(data[name])
            except NotFound:
                errors[name] = [f"No such {name} in this workspace."]
        if errors:
            raise InvalidFields(errors)
        deal = found.get("deal")
        if deal is not None:
            found.setdefault("contact", deal.contact)
            found.setdefault("company", deal.company)
        contact = found.get("contact")
        if contact is not None and "company" not in found:
            found["company"] = contact.company
        return found

    def create(self, request: Request) -> Response:
        data = self.valid(ActivityCreateSerializer)
        activity = services.activity_log_manual(
            workspace=self.workspace, actor=self.actor, kind=data["kind"], title=data.get("title", ""),
            body=data.get("body", ""), occurred_at=data.get("occurred_at"), **self._subjects(data))
        return self._show(activity, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        activity = self.get_object()
        data = self.valid(ActivityUpdateSerializer, partial=True)
        activity = services.activity_update(activity=activity, actor=self.actor, data=data,
                                            membership=self.membership)
        return self._show(activity)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.activity_delete(activity=self.get_object(), actor=self.actor, membership=self.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


def register(router: BaseRouter) -> None:
    router.register("activities", ActivityViewSet, basename="activity")
