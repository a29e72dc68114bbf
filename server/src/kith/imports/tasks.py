"""Background jobs of imports: thin, by id."""

from __future__ import annotations

from kith.core.jobs import job
from kith.imports.processing import import_run


# A large file takes minutes; import_run renews the lease after every batch, so a short lease still recovers a
# dead worker's import quickly.
@job(lease_seconds=300, max_attempts=5)
def import_run_task(*, import_id: int) -> None:
    import_run(import_id=import_id)
