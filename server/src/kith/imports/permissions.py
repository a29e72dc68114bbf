"""Who may import. An import writes thousands of records at once, over existing ones, so it is for the roles that
own the data set: owners, admins and managers for every kind, marketers for contacts (their lists). Sales reps and
viewers may not, and neither may a member limited to their own records (an upsert would touch records they cannot
see)."""

from __future__ import annotations

from kith.accounts.models import Membership, Role
from kith.contacts.selectors import sees_only_own
from kith.imports.models import ImportKind

IMPORT_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})


def can_import(membership: Membership | None, kind: str | None = None) -> bool:
    """Whether ``membership`` may import records of ``kind`` (of any kind when ``kind`` is ``None``)."""
    if membership is None or sees_only_own(membership):
        return False
    if membership.role in IMPORT_ROLES:
        return True
    return membership.role == Role.MARKETER and kind in (None, ImportKind.CONTACTS)
