from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import (  # next to manage.py; importable through pytest.ini's pythonpath
    Ports,
    Stack,
)

# The abandoned-purchase SMS waits this long in the end-to-end test instead of 30 minutes.
ABANDONED_AFTER_SECONDS = 12


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole example as ``make example`` runs it (Kith via kith_run, the SMS sink, the store and its crmify
    worker), on free ports under a temporary directory."""
    stack = Stack(root=Path(tmp_path_factory.mktemp("storefront")), ports=Ports.free())
    try:
        stack.start(abandoned_after_seconds=ABANDONED_AFTER_SECONDS)
        yield stack
    finally:
        stack.stop_all()
