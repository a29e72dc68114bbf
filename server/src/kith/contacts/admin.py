"""Django admin for support staff: read-mostly views of contacts data. Changes belong in the services (they audit
and validate), so the admin only lists and searches."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kith.contacts.models import Company, Contact, CustomFieldDefinition, Tag


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ["id", "email", "first_name", "last_name", "workspace", "lifecycle_stage", "lead_status"]
    list_filter = ["lifecycle_stage", "lead_status"]
    search_fields = ["email", "first_name", "last_name", "external_id"]
    list_select_related = ["workspace"]


@admin.register(Company)
class CompanyAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "domain", "workspace"]
    search_fields = ["name", "domain"]
    list_select_related = ["workspace"]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    list_display = ["id", "name", "workspace"]
    search_fields = ["name"]
    list_select_related = ["workspace"]


@admin.register(CustomFieldDefinition)
class CustomFieldDefinitionAdmin(ReadOnlyAdmin):
    list_display = ["id", "object_type", "key", "field_type", "workspace"]
    list_filter = ["object_type", "field_type"]
    list_select_related = ["workspace"]
