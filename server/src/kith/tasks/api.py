"""REST API of tasks and notifications: /api/v1/tasks/ and /api/v1/notifications/. Thin: validate the shape, call a
service or selector, serialize. Reads go through the selectors, so a restricted rep gets 404 for tasks they may not
see, and nobody can read another person's notifications."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import BaseRouter

from kith.accounts.models import ApiKey
from kith.accounts.permissions import WorkspaceAccess
from kith.core.api_fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from kith.contacts.api.bulk import BulkResultSerializer, bulk_request_serializer
from kith.contacts.api.views import CrmViewSet
from kith.contacts.bulk import bulk_summary
from kith.contacts.errors import InvalidFields
from kith.tasks import notifications, selectors, services
from kith.tasks.filters import NotificationFilter, TaskFilter
from kith.tasks.models import Notification, Task, TaskStatus

MAX_ID = 2**63 - 1


def _id(help_text: str = "") -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text=help_text)


class TaskSerializer(serializers.ModelSerializer):
    assignee_email = serializers.CharField(source="assignee.email", read_only=True, allow_null=True, default=None)
    notes = serializers.CharField(read_only=True, help_text="Sanitized HTML.")

    class Meta:
        model = Task
        fields = ["id", "title", "notes", "due_at", "assignee", "assignee_email", "contact", "company", "deal",
                  "status", "completed_at", "reminder_at", "reminded_at", "email_reminder", "created_by",
                  "created_at", "updated_at"]
        read_only_fields = fields


class TaskInputSerializer(serializers.Serializer):
    """On create ``title``, ``due_at`` and ``assignee`` are required (``assignee`` defaults to the caller for a
    session); on update every field is optional."""

    title = StrictCharField(max_length=255, required=False)
    notes = StrictCharField(max_length=100_000, allow_blank=True, required=False,
                            help_text="HTML; kept tags: p, br, strong, em, u, s, ul, ol, li, a, blockquote, code, "
                                      "pre, h3, h4. Everything else is removed.")
    due_at = serializers.DateTimeField(required=False, help_text="ISO 8601 with an offset.")
    assignee = _id("User id of a member of this workspace.")
    contact = _id("A contact you may see; null detaches.")
    company = _id("A company you may see; null detaches.")
    deal = _id("A deal you may see; null detaches.")
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False,
                                     help_text="`done` completes the task (timeline entry), `open` reopens it.")
    reminder_at = serializers.DateTimeField(required=False, allow_null=True,
                                            help_text="When to remind the assignee (in-app); a new value re-arms it.")
    email_reminder = StrictBooleanField(required=False, help_text="Also e-mail the reminder to the assignee.")


class TaskBulkItemSerializer(TaskInputSerializer):
    id = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False,
                            help_text="Give it to update that task; leave it out to create one.")


TaskBulkRequestSerializer = bulk_request_serializer(
    "TaskBulkRequestSerializer", TaskBulkItemSerializer,
    f"At most {services.MAX_BULK_ITEMS} tasks: items with `id` update that task, items without create one.")


_TASK_EXAMPLE = {"title": "Send the revised quote", "due_at": "2026-12-01T09:00:00+01:00", "assignee": 7,
                 "contact": 42, "reminder_at": "2026-12-01T08:30:00+01:00", "email_reminder": True}


@extend_schema_view(
    list=extend_schema(description="Tasks, newest first (`?ordering=due_at` for soonest due). Restricted reps see "
                                   "tasks assigned to them and tasks on records they own."),
    retrieve=extend_schema(description="One task."),
    create=extend_schema(request=TaskInputSerializer, responses={201: TaskSerializer},
                         description="Create a task; a timeline entry goes on its contact, company and deal.",
                         examples=[OpenApiExample("A follow-up with a reminder", value=_TASK_EXAMPLE,
                                                  request_only=True)]),
    update=extend_schema(request=TaskInputSerializer, responses=TaskSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=TaskInputSerializer, responses=TaskSerializer,
                                 description="Change the fields given; `{\"status\": \"done\"}` completes the task.",
                                 examples=[OpenApiExample("Complete", value={"status": "done"}, request_only=True)]),
    destroy=extend_schema(description="Delete the task."),
)
class TaskViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = TaskSerializer
    filterset_class = TaskFilter
    search_fields = ["title"]
    # Non-null fields only: a cursor encodes the last row's value, and a null one cannot be compared on the next page.
    ordering_fields = ["id", "due_at", "created_at", "updated_at"]

    def workspace_queryset(self) -> Any:
        return selectors.task_list(workspace=self.workspace, membership=self.membership)

    def _show(self, task: Task, code: int = status.HTTP_200_OK) -> Response:
        # Shown to the writer even when the change took it out of their view (handing a task to a colleague).
        fresh = selectors.task_get(workspace=self.workspace, membership=None, task_id=task.pk)
        return Response(TaskSerializer(fresh).data, status=code)

    def create(self, request: Request) -> Response:
        data = self.valid(TaskInputSerializer)
        if "assignee" not in data and self.membership is not None:
            data["assignee"] = request.user.pk
        task = services.task_create(workspace=self.workspace, actor=self.actor, data=data,
                                    membership=self.membership)
        return self._show(task, status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        task = self.get_object()
        data = self.valid(TaskInputSerializer, partial=True)
        task = services.task_update(task=task, actor=self.actor, data=data, membership=self.membership)
        return self._show(task)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.task_delete(task=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=TaskBulkRequestSerializer, responses=BulkResultSerializer,
        description=f"Create or update up to {services.MAX_BULK_ITEMS} tasks. Every item gets its own result; good "
                    "items are saved even when others fail. A request whose items do not match the documented shape, "
                    "or with too many items, is refused as a whole (400).",
        examples=[
            OpenApiExample("Create one, complete another", request_only=True, value={"items": [
                {"title": "Call back", "due_at": "2026-12-01T09:00:00Z", "assignee": 7, "contact": 42},
                {"id": 310, "status": "done"},
            ]}),
            OpenApiExample("Per-item results", response_only=True, value={
                "created": 1, "updated": 0, "unchanged": 0, "errors": 1,
                "results": [
                    {"index": 0, "status": "created", "id": 311, "errors": None},
                    {"index": 1, "status": "error", "id": None, "errors": {"id": ["No such task."]}},
                ],
            }),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        items = self.valid(TaskBulkRequestSerializer)["items"]
        if self.membership is not None:
            for item in items:
                if "id" not in item:
                    item.setdefault("assignee", request.user.pk)
        results = services.task_write_many(workspace=self.workspace, actor=self.actor, items=items,
                                           membership=self.membership)
        return Response(BulkResultSerializer(bulk_summary(results)).data)


class OwnInbox(WorkspaceAccess):
    """Every member may mark their own notifications read, viewers included: it changes nobody else's data. Keys
    follow ``WorkspaceAccess`` (they have no inbox, so they only ever see an empty one)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        membership = getattr(request._request, "membership", None)
        if membership is not None and request.user.is_authenticated and not isinstance(request.auth, ApiKey):
            return True
        return super().has_permission(request, view)


class NotificationSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField(help_text="Whether it was read.")

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "url", "task", "read", "read_at", "created_at"]
        read_only_fields = fields

    def get_read(self, notification: Notification) -> bool:
        return notification.read_at is not None


class NotificationUpdateSerializer(serializers.Serializer):
    read = StrictBooleanField(help_text="`true` marks it read (marking unread again is not supported).")


@extend_schema_view(
    list=extend_schema(description="Your notifications in this workspace, newest first (`?unread=true` for unread "
                                   "ones). API keys have none."),
    retrieve=extend_schema(description="One of your notifications."),
    partial_update=extend_schema(request=NotificationUpdateSerializer, responses=NotificationSerializer,
                                 description="Mark it read.",
                                 examples=[OpenApiExample("Mark read", value={"read": True}, request_only=True)]),
)
class NotificationViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilter
    ordering_fields = ["id", "created_at"]
    http_method_names = ["get", "patch", "post", "head", "options"]

    permission_classes = [OwnInbox]

    def workspace_queryset(self) -> Any:
        return selectors.notification_list(workspace=self.workspace, user=self.request.user)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        notification = self.get_object()
        if not self.valid(NotificationUpdateSerializer)["read"]:
            raise InvalidFields({"read": ["Notifications can only be marked read."]})
        notification = notifications.notification_mark_read(notification=notification)
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses=inline_serializer("NotificationsReadAll", {
        "marked": serializers.IntegerField(help_text="How many were unread.")}),
        description="Mark all your notifications in this workspace read.")
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        marked = notifications.notification_mark_all_read(workspace=self.workspace, user=request.user)
        return Response({"marked": marked})


def register(router: BaseRouter) -> None:
    router.register("tasks", TaskViewSet, basename="task")
    router.register("notifications", NotificationViewSet, basename="notification")
