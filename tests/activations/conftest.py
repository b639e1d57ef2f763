import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import Tenant
from accounts.services import api_key_create
from catalog import upstream
from platfone.emulator import Emulator, emulator_session
from wallet import services as wallet

EMULATOR_BASE = "http://platfone.test/api/v1"


@pytest.fixture
def emulator(monkeypatch, tenant, other_tenant):
    """An in-process Platfone; acme and globex each have their own upstream account on it."""
    emu = Emulator(
        api_keys={"acme-upstream": 1_000_000, "globex-upstream": 1_000_000}, rate_limits=False, success_rate_block=False
    )
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    for t, key in ((tenant, "acme-upstream"), (other_tenant, "globex-upstream")):
        Tenant.objects.filter(pk=t.pk).update(platfone_base_url=EMULATOR_BASE, platfone_api_key=key)
        t.refresh_from_db()
    cache.clear()
    yield emu
    emu.close()
    cache.clear()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def alice_key(alice):
    return api_key_create(user=alice, name="alice").raw_key


@pytest.fixture
def bob_key(bob):
    return api_key_create(user=bob, name="bob").raw_key


@pytest.fixture
def charlie_key(charlie):
    return api_key_create(user=charlie, name="charlie").raw_key


@pytest.fixture
def fund():
    counter = iter(range(1, 10**6))

    def fund(user, cents):
        wallet.deposit(
            user=user, amount_cents=cents, idempotency_key=f"test:fund:{user.pk}:{next(counter)}", actor="test"
        )

    return fund
