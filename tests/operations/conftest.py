import pytest
from django.core.cache import cache

from accounts.models import Tenant
from catalog import upstream
from platfone.emulator import Emulator, emulator_session

EMULATOR_BASE = "http://platfone.test/api/v1"


@pytest.fixture
def emulator(monkeypatch, tenant, other_tenant):
    """An in-process Platfone that knows acme's upstream key only (globex, when pointed at it, is refused)."""
    emu = Emulator(api_keys={"acme-upstream": 1_000_000}, rate_limits=False, success_rate_block=False)
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    Tenant.objects.filter(pk=tenant.pk).update(
        platfone_base_url=EMULATOR_BASE, platfone_api_key="acme-upstream", platfone_webhook_secret="whsec-acme"
    )
    tenant.refresh_from_db()
    cache.clear()
    yield emu
    emu.close()
    cache.clear()
