"""Shared givens of the task tests: a due time, a restricted rep, a viewer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kith.accounts.models import Membership, Role
from kith.accounts.tests.factories import MembershipFactory, UserFactory
from kith.core import clock


def soon(hours: float = 24) -> dt.datetime:
    return clock.now() + dt.timedelta(hours=hours)


def restrict(personas: Any) -> Membership:
    """Make bob a rep limited to the records he owns."""
    membership = Membership.objects.get(workspace=personas.acme, user=personas.bob)
    membership.restrict_to_own = True
    membership.save(update_fields=["restrict_to_own"])
    return membership


def viewer(personas: Any) -> Any:
    user = UserFactory(email="victor@acme.test", full_name="Victor Viewer")
    MembershipFactory(workspace=personas.acme, user=user, role=Role.VIEWER)
    return user


def membership(personas: Any, user: Any) -> Membership:
    return Membership.objects.get(workspace=personas.acme, user=user)
