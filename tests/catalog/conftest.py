"""Fixtures for the catalog tests; ``emulator`` and ``connect_tenant`` are written to move to the root conftest.

``emulator`` is a fresh in-process Platfone. Every client built by ``catalog.upstream.client_for_tenant``
talks to it (through the module's one ``session_factory`` hook), and the cast's tenants (acme, globex) each
have their own upstream account on it. ``connect_tenant(tenant)`` gives any other tenant one too.
"""

from __future__ import annotations

import pytest

from accounts.models import Tenant
from catalog import services, upstream
from platfone.emulator import Emulator, emulator_session

EMULATOR_BASE_URL = "http://platfone.test/api/v1"
UPSTREAM_BALANCE_CENTS = 1_000_000


def upstream_key_for(tenant: Tenant) -> str:
    return f"{tenant.slug}-upstream-key"


@pytest.fixture
def emulator(monkeypatch, tenant, other_tenant):
    emu = Emulator(api_keys={upstream_key_for(t): UPSTREAM_BALANCE_CENTS for t in (tenant, other_tenant)})
    monkeypatch.setattr(upstream, "session_factory", lambda _tenant: emulator_session(emu))
    for t in (tenant, other_tenant):
        _point_at_emulator(emu, t)
    yield emu
    emu.close()


@pytest.fixture
def connect_tenant(emulator):
    """Give another tenant its own upstream account on the emulator."""

    def connect(tenant: Tenant) -> Tenant:
        return _point_at_emulator(emulator, tenant)

    return connect


def _point_at_emulator(emu: Emulator, tenant: Tenant) -> Tenant:
    key = upstream_key_for(tenant)
    emu.set_balance(key, UPSTREAM_BALANCE_CENTS)
    Tenant.objects.filter(pk=tenant.pk).update(platfone_base_url=EMULATOR_BASE_URL, platfone_api_key=key)
    tenant.refresh_from_db()
    return tenant


@pytest.fixture
def synced(emulator, tenant):
    """acme's catalog, synced from the emulator's seeded one."""
    services.catalog_sync(tenant=tenant)
    emulator.reset_counters()
    return tenant
