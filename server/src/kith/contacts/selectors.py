"""Reads of contacts, companies, tags and custom field definitions.

Every read starts from the caller's workspace, and contact and company reads also take the caller's membership:
a member whose ``restrict_to_own`` is set (and who is not an owner, admin or manager) sees only the rows they own.
``membership=None`` means an API key or the system, which see the whole workspace. The UI and the API both read
through these functions, so the rule lives in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from django.db import connections
from django.db.models import BooleanField, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL

from kith.accounts.models import Membership, Role, Workspace
from kith.contacts.models import (
    Company,
    Contact,
    ContactSettings,
    ContactTag,
    CustomFieldDefinition,
    FieldType,
    Tag,
)
from kith.core.errors import NotFound

FULL_VISIBILITY_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})


def sees_only_own(membership: Membership | None) -> bool:
    """Whether ``membership`` is limited to the contacts and companies it owns."""
    return membership is not None and membership.restrict_to_own and membership.role not in FULL_VISIBILITY_ROLES


def contact_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Contact]:
    """The contacts ``membership`` may see, newest first, with what a list shows loaded in a fixed number of
    queries (company and owner joined, tags prefetched in one more query)."""
    queryset = (
        Contact.objects.for_workspace(workspace)
        .select_related("company", "owner")
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.order_by("name")))
        .order_by("-id")
    )
    if sees_only_own(membership):
        assert membership is not None
        queryset = queryset.filter(owner_id=membership.user_id)
    return queryset


def contact_get(*, workspace: Workspace, membership: Membership | None, contact_id: int) -> Contact:
    contact = contact_list(workspace=workspace, membership=membership).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("No such contact.")
    return contact


def company_list(*, workspace: Workspace, membership: Membership | None) -> QuerySet[Company]:
    queryset = Company.objects.for_workspace(workspace).select_related("owner").order_by("-id")
    if sees_only_own(membership):
        assert membership is not None
        queryset = queryset.filter(owner_id=membership.user_id)
    return queryset


def company_get(*, workspace: Workspace, membership: Membership | None, company_id: int) -> Company:
    company = company_list(workspace=workspace, membership=membership).filter(pk=company_id).first()
    if company is None:
        raise NotFound("No such company.")
    return company


def companies_by_id(
    *, workspace: Workspace, membership: Membership | None, ids: Collection[int]
) -> dict[int, Company]:
    """The visible companies among ``ids``, in one query (bulk writes resolve references with it)."""
    if not ids:
        return {}
    return {c.pk: c for c in company_list(workspace=workspace, membership=membership).filter(pk__in=ids)}


def member_user_ids(*, workspace: Workspace, user_ids: Collection[int]) -> set[int]:
    """Which of ``user_ids`` are members of ``workspace`` (owners of records must be), in one query."""
    if not user_ids:
        return set()
    return set(
        Membership.objects.filter(workspace=workspace, user_id__in=user_ids).values_list("user_id", flat=True)
    )


def member_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """The workspace's members as (user id, name), by name: who may own a record (owner pickers)."""
    rows = Membership.objects.filter(workspace=workspace).select_related("user").order_by("user__full_name",
                                                                                          "user__email")
    return [(m.user_id, m.user.display_name) for m in rows]


# An inline picker lists at most this many companies (by name); a workspace with more types a few letters of the
# name to narrow it (``company_choices(search=...)``).
COMPANY_CHOICES_LIMIT = 200


def company_choices(
    *, workspace: Workspace, membership: Membership | None, search: str = "", include_id: int | None = None,
) -> list[tuple[int, str]]:
    """Companies ``membership`` may link a record to, as (id, name) by name, at most ``COMPANY_CHOICES_LIMIT``
    (narrowed by ``search`` on the name); ``include_id`` (the current company) is always listed."""
    queryset = company_list(workspace=workspace, membership=membership)
    if search:
        queryset = queryset.filter(name__icontains=search)
    found = list(queryset.order_by("name", "id").values_list("pk", "name")[:COMPANY_CHOICES_LIMIT])
    if include_id is not None and all(pk != include_id for pk, _ in found):
        found += list(queryset.model.objects.filter(workspace=workspace, pk=include_id).values_list("pk", "name"))
    return found


def tag_list(*, workspace: Workspace) -> QuerySet[Tag]:
    """Tags are the workspace's vocabulary: every member sees all of them."""
    return Tag.objects.for_workspace(workspace).order_by("-id")


def tag_get(*, workspace: Workspace, tag_id: int) -> Tag:
    tag = tag_list(workspace=workspace).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("No such tag.")
    return tag


def tags_by_key(*, workspace: Workspace, names: Iterable[str]) -> dict[str, Tag]:
    """Existing tags named like ``names`` (ignoring case), keyed by ``Tag.key_for(name)``."""
    keys = {Tag.key_for(name) for name in names}
    if not keys:
        return {}
    return {tag.name_key: tag for tag in Tag.objects.for_workspace(workspace).filter(name_key__in=keys)}


def contact_tag_names(*, contact: Contact) -> list[str]:
    return list(contact.tags.order_by("name").values_list("name", flat=True))


def custom_field_definition_list(*, workspace: Workspace) -> QuerySet[CustomFieldDefinition]:
    return CustomFieldDefinition.objects.for_workspace(workspace).order_by("-id")


def custom_field_definition_get(*, workspace: Workspace, definition_id: int) -> CustomFieldDefinition:
    definition = custom_field_definition_list(workspace=workspace).filter(pk=definition_id).first()
    if definition is None:
        raise NotFound("No such custom field.")
    return definition


def custom_field_definitions_by_key(*, workspace: Workspace, object_type: str) -> dict[str, CustomFieldDefinition]:
    """The definitions that validate ``attributes`` of ``object_type`` (one query per write or filtered list)."""
    return {
        d.key: d for d in CustomFieldDefinition.objects.for_workspace(workspace).filter(object_type=object_type)
    }


def contact_settings_get(*, workspace: Workspace) -> ContactSettings:
    """The workspace's contact settings; an unsaved row with the defaults when it has none yet."""
    found = ContactSettings.objects.filter(workspace=workspace).first()
    return found if found is not None else ContactSettings(workspace=workspace)


def with_attribute_equal(
    queryset: QuerySet[Any], *, definition: CustomFieldDefinition, value: Any
) -> QuerySet[Any]:
    """Rows whose custom attribute ``definition.key`` equals ``value`` (already in stored form, see
    ``kith.contacts.attributes.filter_value_parse``); for a multiple-choice field, rows whose list contains it.

    On PostgreSQL this is jsonb containment, ``attributes @> '{"key": value}'``, which the GIN index (jsonb_path_ops)
    of migration 0002 serves. SQLite has no such index; it compares the extracted JSON value.
    """
    key = definition.key
    multi = definition.field_type == FieldType.MULTI_CHOICE
    if connections[queryset.db].features.supports_json_field_contains:
        return queryset.filter(attributes__contains={key: [value] if multi else value})
    if multi:
        # json_each over the stored list; the key is a validated slug, the value a bound parameter.
        table = connections[queryset.db].ops.quote_name(queryset.model._meta.db_table)
        condition = RawSQL(
            f'EXISTS (SELECT 1 FROM json_each({table}."attributes", %s) AS items WHERE items.value = %s)',
            (f'$."{key}"', value),
            output_field=BooleanField(),
        )
        return queryset.filter(condition)
    return queryset.filter(**{f"attributes__{key}": value})


def with_all_tags(queryset: QuerySet[Contact], *, workspace: Workspace, names: Iterable[str]) -> QuerySet[Contact]:
    """Contacts carrying every tag in ``names`` (ignoring case): one small lookup of the tag ids, then one
    ``EXISTS`` per tag on the (contact, tag) unique index. An unknown tag name matches nothing."""
    wanted = {Tag.key_for(name) for name in names if name.strip()}
    found = tags_by_key(workspace=workspace, names=wanted)
    if len(found) < len(wanted):
        return queryset.none()
    for tag in found.values():
        queryset = queryset.filter(Exists(ContactTag.objects.filter(contact_id=OuterRef("pk"), tag_id=tag.pk)))
    return queryset



def contact_search(queryset: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    """Contacts whose first name, last name or e-mail starts with ``text`` (ignoring case); with a space, the first
    word matches the first name and the rest the last name ("Ada Love"). Prefix matching, not substring: it is what
    people type into a search box, and it lets the database stop early on a large workspace."""
    text = text.strip()
    first, _, last = text.partition(" ")
    if last.strip():
        return queryset.filter(first_name__istartswith=first, last_name__istartswith=last.strip())
    return queryset.filter(Q(first_name__istartswith=text) | Q(last_name__istartswith=text)
                           | Q(email__istartswith=text))
