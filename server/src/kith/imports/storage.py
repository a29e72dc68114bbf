"""Where uploaded files and error reports live: under ``KITH_DATA_DIR/imports/<workspace id>/``.

Paths are stored relative to the data directory and resolved here, so a moved data directory keeps working and no
stored path can point outside it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings

ROOT = "imports"


def absolute(relative: str) -> Path:
    base = Path(settings.KITH_DATA_DIR).resolve()
    path = (base / relative).resolve()
    if base not in path.parents:
        raise ValueError(f"{relative!r} lies outside the data directory.")
    return path


def new_path(*, workspace_id: int, suffix: str) -> str:
    """A fresh relative path for a file of ``workspace_id`` (random, so names never collide or leak)."""
    relative = f"{ROOT}/{workspace_id}/{secrets.token_hex(12)}{suffix}"
    absolute(relative).parent.mkdir(parents=True, exist_ok=True)
    return relative
