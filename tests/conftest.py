"""Fixtures shared by the whole suite: a small cast, and PostgreSQL-only test skipping.

The cast: alice and bob are users of the tenant acme; charlie is a user of globex ("must see nothing of
alice's"). ``operator`` is a platform operator (no tenant).
"""

from __future__ import annotations

import pytest

from tests.factories import OperatorFactory, TenantDomainFactory, TenantFactory, UserFactory, issue_api_key


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``@pytest.mark.postgres`` unless the test database is PostgreSQL."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Prices, locks, upstream budgets and rate-limit counters must not leak from one test into another."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tenant(db):
    tenant = TenantFactory(slug="acme", name="Acme Numbers")
    TenantDomainFactory(tenant=tenant, host="acme.test")
    return tenant


@pytest.fixture
def other_tenant(db):
    tenant = TenantFactory(slug="globex", name="Globex Numbers")
    TenantDomainFactory(tenant=tenant, host="globex.test")
    return tenant


@pytest.fixture
def alice(tenant):
    return UserFactory(tenant=tenant, email="alice@example.com")


@pytest.fixture
def bob(tenant):
    return UserFactory(tenant=tenant, email="bob@example.com")


@pytest.fixture
def charlie(other_tenant):
    return UserFactory(tenant=other_tenant, email="charlie@example.com")


@pytest.fixture
def operator(db):
    return OperatorFactory(email="ops@platform.test")


@pytest.fixture
def api():
    """A DRF test client for the JSON API."""
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def alice_key(alice):
    return issue_api_key(alice, "alice").raw_key


@pytest.fixture
def bob_key(bob):
    return issue_api_key(bob, "bob").raw_key


@pytest.fixture
def charlie_key(charlie):
    return issue_api_key(charlie, "charlie").raw_key
