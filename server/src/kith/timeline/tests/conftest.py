"""Fixtures of the timeline tests: the contacts tests' API clients, by name."""

from kith.contacts.tests.conftest import acme_key_api  # noqa: F401  (fixture, by name)
