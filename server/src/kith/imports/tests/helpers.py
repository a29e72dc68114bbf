"""Building imports in tests: a file from text or bytes, uploaded, configured and run through the services."""

from __future__ import annotations

from typing import Any

from kith.accounts.models import Membership
from kith.imports import services
from kith.imports.models import ImportJob


def upload(personas: Any, data: bytes | str, *, kind: str = "contacts", name: str = "people.csv") -> ImportJob:
    raw = data.encode() if isinstance(data, str) else data
    membership = Membership.objects.get(workspace=personas.acme, user=personas.alice)
    return services.import_create(workspace=personas.acme, actor=personas.alice, membership=membership, kind=kind,
                                  file_name=name, size=len(raw), chunks=[raw])


def run(personas: Any, data: bytes | str, *, kind: str = "contacts", name: str = "people.csv",
        upsert_key: str | None = None, update_existing: bool = True, mapping: dict[str, str] | None = None,
        ) -> ImportJob:
    """Upload, keep the guessed mapping (or ``mapping``), start; the immediate job runner runs it at commit."""
    job = upload(personas, data, kind=kind, name=name)
    services.import_configure(job=job, actor=personas.alice, mapping=mapping or job.mapping,
                              upsert_key=upsert_key or job.upsert_key, update_existing=update_existing)
    services.import_start(job=job, actor=personas.alice)
    job.refresh_from_db()
    return job
