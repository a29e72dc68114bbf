from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def jobs(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """``with jobs():`` runs the jobs enqueued inside (the immediate runner fires on commit, and a plain
    ``django_db`` test never commits)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
