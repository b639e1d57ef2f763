"""Fixtures of the reliability suite: an emulator that serves both tenants and sends them their webhooks,
the cast with money and keys, and a switch that lets a plain WSGI client call the app inside a test
transaction (as Django's own test client does)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from accounts.models import Tenant
from accounts.services import api_key_create
from catalog import upstream
from platfone.emulator import Emulator, emulator_session
from tests.reliability.support import WebhookRouter
from wallet import services as wallet

EMULATOR_BASE = "http://platfone.test/api/v1"
WEBHOOK_SECRET = "reliability-webhook-secret"
UPSTREAM_KEYS = {"acme": "acme-upstream", "globex": "globex-upstream"}
FUNDS = 20_000


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # prices, budgets and rate-limit counters must not leak between tests
    yield
    cache.clear()


def connect_tenants(tenants, base_url: str, *, webhooks: bool = True) -> None:
    for tenant in tenants:
        Tenant.objects.filter(pk=tenant.pk).update(
            platfone_base_url=base_url,
            platfone_api_key=UPSTREAM_KEYS[tenant.slug],
            platfone_webhook_secret=WEBHOOK_SECRET if webhooks else "",
        )
        tenant.refresh_from_db()


def make_emulator(router: WebhookRouter, **options) -> Emulator:
    options = {"rate_limits": False, "success_rate_block": False, **options}
    emu = Emulator(
        api_keys=dict.fromkeys(UPSTREAM_KEYS.values(), 10_000_000),
        webhook_url="http://reseller.test/webhooks/platfone/",  # the router picks the tenant's own URL
        webhook_secret=WEBHOOK_SECRET,
        webhook_sender=router,
        **options,
    )
    router.emulator = emu
    return emu


@pytest.fixture
def webhook_router():
    return WebhookRouter(tenants_by_key={key: slug for slug, key in UPSTREAM_KEYS.items()}, seed=7)


@pytest.fixture
def emulator(monkeypatch, tenant, other_tenant, webhook_router):
    """An in-process Platfone: acme and globex have their own upstream accounts; webhooks reach our app."""
    emu = make_emulator(webhook_router)
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    connect_tenants([tenant, other_tenant], EMULATOR_BASE)
    yield emu
    emu.close()


@pytest.fixture
def cast(tenant, other_tenant, alice, bob, charlie):
    """The cast with keys and money: ``cast.keys[user]``, ``cast.funded[user.pk]``; generous rate limits so
    the scenarios exercise the logic behind the limiter (which has its own tests)."""
    Tenant.objects.filter(pk__in=[tenant.pk, other_tenant.pk]).update(rate_limit_per_minute=1_000_000)

    class Cast:
        users = [alice, bob, charlie]
        keys = {u: api_key_create(user=u, name="reliability").raw_key for u in (alice, bob, charlie)}
        funded = {u.pk: FUNDS for u in (alice, bob, charlie)}

    for user in Cast.users:
        wallet.deposit(user=user, amount_cents=FUNDS, idempotency_key=f"reliability:fund:{user.pk}", actor="test")
    for user in Cast.users:
        user.refresh_from_db()
    return Cast


class InTestTransactionWSGIHandler(WSGIHandler):
    """The project's WSGI app for raw WSGI clients (schemathesis) inside a test's transaction.

    A request ends with ``request_finished``, whose ``close_old_connections`` closes a PostgreSQL connection
    that is inside a transaction (the test's). Django's test client unhooks it around each of its requests
    and hooks it back after; this unhooks it before each request, and ``wsgi_in_test_transaction`` hooks it
    back when the test ends.
    """

    def __call__(self, environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        return super().__call__(environ, start_response)


@pytest.fixture
def wsgi_in_test_transaction():
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
