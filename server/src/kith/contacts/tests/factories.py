"""factory_boy factories for the contacts app. They write rows directly (already normalized values); tests of
normalization and validation go through the services instead."""

from __future__ import annotations

import factory

from kith.accounts.tests.factories import WorkspaceFactory
from kith.contacts.models import Company, Contact, ContactTag, CustomFieldDefinition, FieldType, ObjectType, Tag


class CompanyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Company

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"contact{n}@example.com")

    @factory.post_generation
    def tags(obj, create, extracted, **kwargs):
        """``ContactFactory(tags=["vip"])`` tags the contact, creating the tags in its workspace as needed."""
        if not create or not extracted:
            return
        for name in extracted:
            tag, _ = Tag.objects.get_or_create(workspace=obj.workspace, name_key=Tag.key_for(name),
                                               defaults={"name": name})
            ContactTag.objects.get_or_create(contact=obj, tag=tag)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"tag {n}")
    name_key = factory.LazyAttribute(lambda o: Tag.key_for(o.name))


class CustomFieldDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomFieldDefinition

    workspace = factory.SubFactory(WorkspaceFactory)
    object_type = ObjectType.CONTACT
    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda o: o.key.replace("_", " ").title())
    field_type = FieldType.TEXT
    choices = factory.LazyAttribute(lambda o: ["free", "pro", "enterprise"] if o.field_type in
                                    (FieldType.SINGLE_CHOICE, FieldType.MULTI_CHOICE) else [])
