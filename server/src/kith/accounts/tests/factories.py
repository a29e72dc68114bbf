"""factory_boy factories for accounts, and the personas every permission test speaks about."""

from __future__ import annotations

from dataclasses import dataclass

import factory
from allauth.account.models import EmailAddress

from kith.accounts.models import Membership, Role, User, Workspace

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):  # noqa: N805
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):  # noqa: N805
        # Personas log in through allauth, which wants a verified primary address.
        if create and extracted is not False:
            EmailAddress.objects.get_or_create(user=obj, email=obj.email, defaults={"verified": True, "primary": True})


class WorkspaceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workspace

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"workspace-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    workspace = factory.SubFactory(WorkspaceFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER


@dataclass
class Personas:
    alice: User
    bob: User
    mallory: User
    acme: Workspace
    mallory_inc: Workspace

    @classmethod
    def build(cls) -> Personas:
        acme = WorkspaceFactory(name="Acme", slug="acme")
        mallory_inc = WorkspaceFactory(name="Mallory Inc", slug="mallory-inc")
        alice = UserFactory(email="alice@acme.test", full_name="Alice Owner")
        bob = UserFactory(email="bob@acme.test", full_name="Bob Rep")
        mallory = UserFactory(email="mallory@evil.test", full_name="Mallory")
        MembershipFactory(workspace=acme, user=alice, role=Role.OWNER)
        MembershipFactory(workspace=acme, user=bob, role=Role.REP)
        MembershipFactory(workspace=mallory_inc, user=mallory, role=Role.OWNER)
        return cls(alice=alice, bob=bob, mallory=mallory, acme=acme, mallory_inc=mallory_inc)
