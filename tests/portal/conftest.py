"""Fixtures of the storefront tests: the cast on their own hosts, a synced catalog on the in-process emulator,
and clients signed in the way a browser is (a session cookie on one host)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from catalog.services import catalog_sync
from tests.activations.conftest import emulator, fund  # noqa: F401 - the in-process Platfone and money
from tests.factories import TEST_PASSWORD

ACME = "acme.test"
GLOBEX = "globex.test"


def verified(user: User) -> User:
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    user.refresh_from_db()
    return user


def host_client(host: str) -> Client:
    return Client(HTTP_HOST=host)


@pytest.fixture
def acme_client():
    return host_client(ACME)


@pytest.fixture
def globex_client():
    return host_client(GLOBEX)


@pytest.fixture
def synced(emulator, tenant, other_tenant):  # noqa: F811
    """Both storefronts' catalogs synced from the emulator."""
    catalog_sync(tenant=tenant)
    catalog_sync(tenant=other_tenant)
    return emulator


@pytest.fixture
def alice_client(alice):
    """alice, verified, signed in on acme's host."""
    verified(alice)
    client = host_client(ACME)
    client.force_login(alice, backend="accounts.backends.TenantEmailBackend")
    return client


@pytest.fixture
def charlie_client(charlie):
    verified(charlie)
    client = host_client(GLOBEX)
    client.force_login(charlie, backend="accounts.backends.TenantEmailBackend")
    return client


__all__ = ["TEST_PASSWORD", "emulator", "fund"]
