"""The signed token of a contact's preference page: it binds workspace and contact, so it is the only authority
the public page needs. It does not expire: links in old e-mails must keep working (like the unsubscribe link).

No model imports here, so the messaging app can build ``preferences_url`` for its render context without a cycle.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing

_SIGNER = signing.Signer(salt="kith.preferences.page")


def preferences_token(*, workspace_id: int, contact_id: int) -> str:
    return _SIGNER.sign(f"{workspace_id}.{contact_id}")


def preferences_url(*, workspace_id: int, contact_id: int) -> str:
    return f"{settings.KITH_BASE_URL}/p/{preferences_token(workspace_id=workspace_id, contact_id=contact_id)}/"


def preferences_token_read(token: str) -> tuple[int, int] | None:
    """(workspace id, contact id) of a genuine token, None for anything else."""
    try:
        value = _SIGNER.unsign(token)
    except signing.BadSignature:
        return None
    workspace_id, _, contact_id = value.partition(".")
    if not (workspace_id.isdigit() and contact_id.isdigit()):
        return None
    return int(workspace_id), int(contact_id)
