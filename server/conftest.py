"""Test-wide setup: fast password hashing, the immediate job runner, and the named personas.

``alice`` owns workspace Acme, ``bob`` is a rep in Acme, ``mallory`` owns another workspace (Mallory Inc) and must
never see Acme's data.
"""

from __future__ import annotations

import pytest

# Environment defaults (immediate job runner, data dir, log format) come from the kith.pytest_env plugin, which
# pytest.ini loads before pytest-django reads the settings.


def pytest_configure(config: pytest.Config) -> None:
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def personas(db):
    from kith.accounts.tests.factories import Personas

    return Personas.build()
