import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.services import api_key_create


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # rate-limit counters must not leak between tests
    yield
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def alice_key(alice):
    return api_key_create(user=alice, name="alice").raw_key


@pytest.fixture
def charlie_key(charlie):
    return api_key_create(user=charlie, name="charlie").raw_key
