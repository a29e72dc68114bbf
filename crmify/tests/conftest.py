import pytest

from crmify.backends.test import TestBackend


@pytest.fixture(autouse=True)
def test_crm():
    TestBackend.reset()
    yield TestBackend
    TestBackend.reset()
