import pytest
from django.core.cache import cache

from accounts.models import Tenant
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
def fund():
    counter = iter(range(1, 10**6))

    def fund(user, cents):
        wallet.deposit(
            user=user, amount_cents=cents, idempotency_key=f"test:fund:{user.pk}:{next(counter)}", actor="test"
        )

    return fund


# --- part 2: webhooks, clocks, budgets ----------------------------------------------------------

WEBHOOK_SECRET = "whsec-acme-test-secret"
WEBHOOK_PATH = "/webhooks/platfone/acme/"


def _wire(monkeypatch, emu, tenants):
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    for t, key in tenants:
        Tenant.objects.filter(pk=t.pk).update(platfone_base_url=EMULATOR_BASE, platfone_api_key=key)
        t.refresh_from_db()


def post_to_django(url, headers, body):
    """What the upstream's webhook POST looks like to Django: sent through the test client, in this thread (and
    applied by the eager worker when it returns)."""
    from urllib.parse import urlsplit

    from tests.supplier_webhooks import post_supplier_webhook

    return post_supplier_webhook(urlsplit(url).path, body, headers)


@pytest.fixture
def webhook_secret(tenant):
    """acme has a webhook secret (it is what the upstream signs with)."""
    Tenant.objects.filter(pk=tenant.pk).update(platfone_webhook_secret=WEBHOOK_SECRET)
    tenant.refresh_from_db()
    return WEBHOOK_SECRET


@pytest.fixture
def hooked_emulator(monkeypatch, tenant, other_tenant, webhook_secret):
    """Like ``emulator``, but the upstream sends its webhooks, signed with acme's secret, synchronously into
    Django at ``/webhooks/platfone/acme/`` (only acme's account is used with it). ``emu.webhook_answers``
    lists Django's responses; ``emu.webhooks_paused = True`` makes the receiver unreachable (503), so that a
    test can deliver an event later with ``emu.redeliver(event_id)``."""
    answers = []

    def sender(url, headers, body):
        if emu.webhooks_paused:
            return 503
        response = post_to_django(url, headers, body)
        answers.append(response)
        return response.status_code

    emu = Emulator(
        api_keys={"acme-upstream": 1_000_000, "globex-upstream": 1_000_000},
        rate_limits=False,
        success_rate_block=False,
        webhook_url=f"http://reseller.test{WEBHOOK_PATH}",
        webhook_secret=webhook_secret,
        webhook_sender=sender,
    )
    emu.webhook_answers = answers
    emu.webhooks_paused = False
    _wire(monkeypatch, emu, ((tenant, "acme-upstream"), (other_tenant, "globex-upstream")))
    cache.clear()
    yield emu
    emu.close()
    cache.clear()


def last_event_id(emu, kind):
    """The id of the emulator's most recent webhook event of ``kind``."""
    return [d for d in emu.webhook_deliveries() if d["type"] == kind][-1]["id"]


@pytest.fixture
def time_travel(monkeypatch, emulator):
    """``time_travel(seconds)`` moves our clock (``django.utils.timezone.now``) and the upstream's together,
    as if that much time had passed: expiries and delays happen on both sides without sleeping."""
    from datetime import timedelta

    from django.utils import timezone

    real_now = timezone.now
    offset = [timedelta(0)]
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset[0])

    def travel(seconds):
        offset[0] += timedelta(seconds=seconds)
        emulator.advance_clock(seconds)
        cache.clear()  # cached flags (webhook health) would otherwise outlive the jump

    return travel
