"""REST endpoints of contacts, companies, tags and custom fields. Thin: validate the shape, call a service or
selector, serialize. Reads go through the selectors, so a member limited to their own records gets 404 for the
others, exactly as in the UI."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import filters, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from kith.accounts.api import WorkspaceScopedViewSet, _actor
from kith.accounts.models import ApiKey, Membership
from kith.accounts.permissions import WorkspaceAccess
from kith.contacts import selectors, services
from kith.contacts.api import serializers as s
from kith.contacts.api.exports import ExportMixin
from kith.contacts.api.bulk import BULK_DESCRIPTION, bulk_result_example
from kith.contacts.bulk import bulk_summary
from kith.contacts.api.ordering import (
    AttributeCursorPagination,
    AttributeOrderingFilter,
)
from kith.contacts.errors import InvalidFields
from kith.contacts.exports import company_export_columns, contact_export_columns
from kith.contacts.filters import CompanyFilter, ContactFilter, CustomFieldFilter
from kith.contacts.models import Company, Contact, ObjectType
from kith.core.idempotency import IdempotentAutoSchema, IdempotentViewMixin
from kith.search import selectors as search_selectors
from kith.search.api import FULL_TEXT_FILTER_BACKENDS

# The full-text lists' backends, with an ordering that also accepts attr.<key>.
ATTRIBUTE_ORDERING_FILTER_BACKENDS = [AttributeOrderingFilter if backend is filters.OrderingFilter else backend
                                      for backend in FULL_TEXT_FILTER_BACKENDS]

ATTRIBUTE_FILTER_HELP = (
    "Also filter on custom attributes with `attr.<key>=<value>` (for example `attr.plan=pro`, `attr.seats=5`, "
    "`attr.trial=true`); the key must be a defined custom field and the value must fit its type."
)


class CrmViewSet(IdempotentViewMixin, WorkspaceScopedViewSet):
    """Base of the CRM endpoints: any member reads, writers write (``WorkspaceAccess``), every write honours
    ``Idempotency-Key``, and ``InvalidFields`` answers 400 naming every bad field."""

    admin_only = False
    schema = IdempotentAutoSchema()
    # JSON only: nested objects (attributes, bulk items) have no faithful form encoding.
    parser_classes = [JSONParser]

    @property
    def membership(self) -> Membership | None:
        return self.request._request.membership

    @property
    def actor(self) -> Any:
        return _actor(self.request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, InvalidFields):
            exc = ValidationError(exc.errors)
        return super().handle_exception(exc)

    def filter_queryset(self, queryset: Any) -> Any:
        # DRF reads these with .get() and would silently use the last of repeated values.
        repeated = [name for name in ("search", "ordering", "cursor", "page_size")
                    if len(self.request.query_params.getlist(name)) > 1]
        if repeated:
            raise ValidationError({name: ["Give this parameter once."] for name in repeated})
        return super().filter_queryset(queryset)

    def valid(self, serializer_class: type[Any], *, partial: bool = False) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ManagesVocabulary(permissions.BasePermission):
    """Tags and custom fields shape every record of the workspace, so only owners, admins and managers (or a key
    with write scope, checked by ``WorkspaceAccess``) change them; everyone may read them."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS or isinstance(request.auth, ApiKey):
            return True
        membership = getattr(request._request, "membership", None)
        return membership is not None and membership.role in selectors.FULL_VISIBILITY_ROLES


_CONTACT_EXAMPLE = {
    "email": "Dana.Lee@Example.com",
    "first_name": "Dana",
    "last_name": "Lee",
    "phone": "(415) 555-0123",
    "lifecycle_stage": "lead",
    "email_consent": "opted_in",
    "attributes": {"plan": "pro", "seats": 12},
    "tags": ["newsletter", "trial"],
}


@extend_schema_view(
    list=extend_schema(description="Contacts, newest first. " + ATTRIBUTE_FILTER_HELP),
    retrieve=extend_schema(description="One contact."),
    create=extend_schema(
        request=s.ContactCreateSerializer, responses={201: s.ContactSerializer},
        description="Create a contact. An e-mail address already used in the workspace (in any case) is a 400 on "
                    "`email`; use `/contacts/upsert/` to update-or-create.",
        examples=[OpenApiExample("A new lead", value=_CONTACT_EXAMPLE, request_only=True)],
    ),
    update=extend_schema(request=s.ContactInputSerializer, responses=s.ContactSerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(
        request=s.ContactInputSerializer, responses=s.ContactSerializer,
        description="Change the fields given; `attributes` are merged key by key.",
        examples=[OpenApiExample("Qualify a lead", request_only=True,
                                 value={"lead_status": "qualified", "attributes": {"seats": 20, "plan": None}})],
    ),
    destroy=extend_schema(description="Delete the contact."),
)
class ContactViewSet(ExportMixin, CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.ContactSerializer
    export_name = export_object = "contacts"
    filterset_class = ContactFilter
    search_fields = ["first_name", "last_name", "email"]
    # ?search= is full-text (kith.search): names, e-mail, phone and the company's name or domain.
    # ?ordering=attr.<key> orders by a custom attribute with keyset cursors (kith.contacts.api.ordering).
    filter_backends = ATTRIBUTE_ORDERING_FILTER_BACKENDS
    pagination_class = AttributeCursorPagination
    attribute_object_type = ObjectType.CONTACT
    search_function = staticmethod(search_selectors.contact_search)
    ordering_fields = ["id", "created_at", "updated_at", "first_name", "last_name", "email", "engagement_score"]

    def workspace_queryset(self) -> Any:
        return selectors.contact_list(workspace=self.workspace, membership=self.membership)

    def export_columns(self) -> Any:
        return contact_export_columns(workspace=self.workspace)

    def _show(self, contact: Contact, *, status_code: int = status.HTTP_200_OK) -> Response:
        # The writer just made this change, so it is shown even if it moved the contact out of their view
        # (a rep limited to their own records handing a contact to a colleague).
        fresh = selectors.contact_get(workspace=self.workspace, membership=None, contact_id=contact.pk)
        return Response(s.ContactSerializer(fresh).data, status=status_code)

    def create(self, request: Request) -> Response:
        data = self.valid(s.ContactCreateSerializer)
        tags = data.pop("tags", [])
        contact = services.contact_create(workspace=self.workspace, actor=self.actor, data=data, tags=tags,
                                          membership=self.membership)
        return self._show(contact, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        contact = self.get_object()
        data = self.valid(s.ContactInputSerializer, partial=True)
        contact = services.contact_update(contact=contact, actor=self.actor, data=data, membership=self.membership)
        return self._show(contact)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.contact_delete(contact=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.ContactCreateSerializer, responses={200: s.ContactSerializer, 201: s.ContactSerializer},
        description="Update the contact with this `external_id` (preferred) or `email`, or create it (201). The "
                    "`tags` given are added.",
        examples=[OpenApiExample("Sync a user of your app", request_only=True,
                                 value={"external_id": "user-1842", "email": "dana.lee@example.com",
                                        "lifecycle_stage": "customer", "tags": ["paying"]})],
    )
    @action(detail=False, methods=["post"], url_path="upsert")
    def upsert(self, request: Request) -> Response:
        data = self.valid(s.ContactCreateSerializer)
        tags = data.pop("tags", [])
        contact, created = services.contact_upsert(workspace=self.workspace, actor=self.actor, data=data, tags=tags,
                                                   membership=self.membership)
        return self._show(contact, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=s.ContactBulkRequestSerializer, responses=s.BulkResultSerializer,
        description=f"Upsert up to {services.MAX_BULK_ITEMS} contacts (each as in `/contacts/upsert/`). Every item "
                    "gets its own result; good items are saved even when others fail. A request whose items do not "
                    "match the documented shape, or with too many items, is refused as a whole (400).",
        examples=[
            OpenApiExample("Two contacts, one with an invalid phone", request_only=True, value={"items": [
                {"email": "ana@example.com", "first_name": "Ana", "tags": ["import-2024"]},
                {"email": "ben@example.com", "phone": "12"},
            ]}),
            OpenApiExample("Per-item results", response_only=True, value={
                "created": 1, "updated": 0, "unchanged": 0, "errors": 1,
                "results": [
                    {"index": 0, "status": "created", "id": 981, "errors": None},
                    {"index": 1, "status": "error", "id": None,
                     "errors": {"phone": ["Enter a valid phone number, such as +14155550123."]}},
                ],
            }),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        items = self.valid(s.ContactBulkRequestSerializer)["items"]
        results = services.contact_bulk_upsert(workspace=self.workspace, actor=self.actor, items=items,
                                               membership=self.membership)
        return Response(s.BulkResultSerializer(bulk_summary(results)).data)

    @extend_schema(
        methods=["GET"], request=None, responses=s.ContactTagsSerializer, description="The contact's tags.",
    )
    @extend_schema(
        methods=["POST"], request=s.ContactTagsChangeSerializer, responses=s.ContactTagsSerializer,
        description="Add and/or remove tags; answers the contact's tags afterwards.",
        examples=[OpenApiExample("Tag and untag", request_only=True,
                                 value={"add": ["vip"], "remove": ["trial"]})],
    )
    @action(detail=True, methods=["get", "post"], url_path="tags")
    def tags(self, request: Request, pk: int | None = None) -> Response:
        contact = self.get_object()
        if request.method == "POST":
            data = self.valid(s.ContactTagsChangeSerializer)
            if data.get("remove"):
                services.contact_remove_tags(contact=contact, actor=self.actor, names=data["remove"])
            if data.get("add"):
                services.contact_add_tags(contact=contact, actor=self.actor, names=data["add"])
        return Response({"tags": selectors.contact_tag_names(contact=contact)})


@extend_schema_view(
    list=extend_schema(description="Companies, newest first. " + ATTRIBUTE_FILTER_HELP),
    create=extend_schema(
        request=s.CompanyInputSerializer, responses={201: s.CompanySerializer},
        examples=[OpenApiExample("A company", request_only=True,
                                 value={"name": "Globex", "domain": "https://www.globex.com/", "size": "51-200"})],
    ),
    update=extend_schema(request=s.CompanyInputSerializer, responses=s.CompanySerializer,
                         description="Change the fields given (same as PATCH)."),
    partial_update=extend_schema(request=s.CompanyInputSerializer, responses=s.CompanySerializer),
)
class CompanyViewSet(ExportMixin, CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.CompanySerializer
    export_name = export_object = "companies"
    filterset_class = CompanyFilter
    search_fields = ["name", "domain"]
    filter_backends = ATTRIBUTE_ORDERING_FILTER_BACKENDS
    pagination_class = AttributeCursorPagination
    attribute_object_type = ObjectType.COMPANY
    search_function = staticmethod(search_selectors.company_search)
    ordering_fields = ["id", "created_at", "updated_at", "name"]

    def workspace_queryset(self) -> Any:
        return selectors.company_list(workspace=self.workspace, membership=self.membership)

    def export_columns(self) -> Any:
        return company_export_columns(workspace=self.workspace)

    def _show(self, company: Company, *, status_code: int = status.HTTP_200_OK) -> Response:
        fresh = selectors.company_get(workspace=self.workspace, membership=None, company_id=company.pk)
        return Response(s.CompanySerializer(fresh).data, status=status_code)

    def create(self, request: Request) -> Response:
        company = services.company_create(workspace=self.workspace, actor=self.actor,
                                          data=self.valid(s.CompanyInputSerializer), membership=self.membership)
        return self._show(company, status_code=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        company = self.get_object()
        data = self.valid(s.CompanyInputSerializer, partial=True)
        company = services.company_update(company=company, actor=self.actor, data=data, membership=self.membership)
        return self._show(company)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.company_delete(company=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=s.CompanyInputSerializer, responses={200: s.CompanySerializer, 201: s.CompanySerializer},
        description="Update the company with this `domain`, or create it (201).",
        examples=[OpenApiExample("By domain", request_only=True, value={"name": "Globex", "domain": "globex.com"})],
    )
    @action(detail=False, methods=["post"], url_path="upsert")
    def upsert(self, request: Request) -> Response:
        company, created = services.company_upsert(workspace=self.workspace, actor=self.actor,
                                                   data=self.valid(s.CompanyInputSerializer),
                                                   membership=self.membership)
        return self._show(company, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request=s.CompanyBulkRequestSerializer, responses=s.BulkResultSerializer,
        description=f"Create or update up to {services.MAX_BULK_ITEMS} companies: an item with `id` updates that "
                    "company, one without updates the company with its `domain` (as `/companies/upsert/`) or "
                    "creates one. " + BULK_DESCRIPTION,
        examples=[
            OpenApiExample("Create, upsert by domain, rename by id", request_only=True, value={"items": [
                {"name": "Initech", "domain": "initech.com", "industry": "Software"},
                {"name": "Globex Corporation", "domain": "https://www.globex.com/"},
                {"id": 77, "name": "Umbrella Group"},
                {"domain": "piedpiper.com"},
            ]}),
            bulk_result_example([
                {"index": 0, "status": "created", "id": 311, "errors": None},
                {"index": 1, "status": "unchanged", "id": 52, "errors": None},
                {"index": 2, "status": "updated", "id": 77, "errors": None},
                {"index": 3, "status": "error", "id": None, "errors": {"name": ["A company needs a name."]}},
            ]),
        ],
    )
    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        items = self.valid(s.CompanyBulkRequestSerializer)["items"]
        results = services.company_bulk_write(workspace=self.workspace, actor=self.actor, items=items,
                                              membership=self.membership)
        return Response(s.BulkResultSerializer(bulk_summary(results)).data)


@extend_schema_view(
    create=extend_schema(request=s.TagInputSerializer, responses={201: s.TagSerializer},
                         examples=[OpenApiExample("A tag", request_only=True, value={"name": "VIP"})]),
    update=extend_schema(request=s.TagInputSerializer, responses=s.TagSerializer, description="Rename the tag."),
    partial_update=extend_schema(request=s.TagInputSerializer, responses=s.TagSerializer,
                                 description="Rename the tag."),
    destroy=extend_schema(description="Delete the tag and take it off every contact."),
)
class TagViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.TagSerializer
    permission_classes = [WorkspaceAccess, ManagesVocabulary]
    search_fields = ["name"]
    ordering_fields = ["id", "name", "created_at"]

    def workspace_queryset(self) -> Any:
        return selectors.tag_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        tag = services.tag_create(workspace=self.workspace, actor=self.actor,
                                  name=self.valid(s.TagInputSerializer)["name"])
        return Response(s.TagSerializer(tag).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        tag = self.get_object()
        tag = services.tag_rename(tag=tag, actor=self.actor, name=self.valid(s.TagInputSerializer)["name"])
        return Response(s.TagSerializer(tag).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.tag_delete(tag=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    create=extend_schema(
        request=s.CustomFieldCreateSerializer, responses={201: s.CustomFieldSerializer},
        examples=[
            OpenApiExample("A choice field", request_only=True,
                           value={"object_type": "contact", "key": "plan", "label": "Plan", "field_type":
                                  "single_choice", "choices": ["free", "pro", "enterprise"], "required": False}),
            OpenApiExample("A date field", request_only=True,
                           value={"object_type": "company", "key": "renewal_date", "label": "Renewal date",
                                  "field_type": "date"}),
        ],
    ),
    update=extend_schema(request=s.CustomFieldUpdateSerializer, responses=s.CustomFieldSerializer,
                         description="Change label, choices or required (same as PATCH); key and type are fixed."),
    partial_update=extend_schema(request=s.CustomFieldUpdateSerializer, responses=s.CustomFieldSerializer,
                                 description="Change label, choices or required; key and type are fixed."),
    destroy=extend_schema(description="Delete the field and remove its values from every contact or company."),
)
class CustomFieldViewSet(CrmViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    serializer_class = s.CustomFieldSerializer
    permission_classes = [WorkspaceAccess, ManagesVocabulary]
    filterset_class = CustomFieldFilter
    search_fields = ["key", "label"]
    ordering_fields = ["id", "key", "label", "created_at"]

    def workspace_queryset(self) -> Any:
        return selectors.custom_field_definition_list(workspace=self.workspace)

    def create(self, request: Request) -> Response:
        definition = services.custom_field_definition_create(
            workspace=self.workspace, actor=self.actor, **self.valid(s.CustomFieldCreateSerializer)
        )
        return Response(s.CustomFieldSerializer(definition).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, pk: int | None = None) -> Response:
        definition = self.get_object()
        definition = services.custom_field_definition_update(
            definition=definition, actor=self.actor, data=self.valid(s.CustomFieldUpdateSerializer, partial=True)
        )
        return Response(s.CustomFieldSerializer(definition).data)

    def partial_update(self, request: Request, pk: int | None = None) -> Response:
        return self.update(request, pk)

    def destroy(self, request: Request, pk: int | None = None) -> Response:
        services.custom_field_definition_delete(definition=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
