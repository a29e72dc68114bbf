"""Test-wide setup: fast password hashing, the immediate job runner, and the named personas.

``alice`` owns workspace Acme, ``bob`` is a rep in Acme, ``mallory`` owns another workspace (Mallory Inc) and must
never see Acme's data.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("KITH_JOBS_RUNNER", "immediate")
os.environ.setdefault("KITH_DATA_DIR", str(Path(__file__).resolve().parent / "var"))
os.environ.setdefault("KITH_LOG_FORMAT", "plain")
os.environ.setdefault("KITH_LOG_LEVEL", "WARNING")
os.environ.setdefault("KITH_EMAIL_VERIFICATION", "mandatory")
Path(os.environ["KITH_DATA_DIR"]).mkdir(parents=True, exist_ok=True)

import pytest  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def personas(db):
    from kith.accounts.tests.factories import Personas

    return Personas.build()
