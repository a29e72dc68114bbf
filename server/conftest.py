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


@pytest.fixture(scope="session", autouse=True)
def _database_is_the_one_asked_for() -> None:
    """`make test` runs the suite once per database; fail loudly if a run silently used another one."""
    import os

    from django.db import connection

    expected = os.environ.get("KITH_EXPECT_DB_VENDOR")
    if expected and connection.vendor != expected:
        pytest.fail(f"this run should use {expected} but the database is {connection.vendor}", pytrace=False)


@pytest.fixture
def personas(db):
    from kith.accounts.tests.factories import Personas

    return Personas.build()


@pytest.fixture(autouse=True)
def _clock_is_released() -> object:
    """A test that leaves ``kith.core.clock`` frozen would move time for every later test in its process (a row
    "created an hour ago" by the database looks like the far future to code reading the frozen clock). Fail the
    test that does it, and release the clock so the next test is not hurt."""
    from kith.core import clock

    clock._override = None
    yield
    leaked, clock._override = clock._override, None
    if leaked is not None:
        pytest.fail(f"the test left kith.core.clock frozen at {leaked.isoformat()}", pytrace=False)
