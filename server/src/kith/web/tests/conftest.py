"""Fixtures for the web UI tests: a logged-in browser-like client per persona."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from kith.accounts.models import User


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    """A fresh client logged in as ``user`` (each persona gets their own session and cookies)."""

    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make
