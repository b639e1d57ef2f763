"""Case 7 (hostile use): a swarm of fresh accounts cannot push the shared supplier account into its 24 h block.

The per-user success floor starts after 10 orders, so accounts with fewer are never checked. The tenant-level
guard: when the storefront's own 24 h success rate (orders still waiting counted as failures) falls below the
tenant's ``success_guard_percent`` (default 12 %), new orders from users without a good record are refused
(429 ``success_rate_guard``) until it recovers; users with a good record keep ordering.

The simulation runs against an emulator that enforces the supplier's 7 % rule (a 24 h block of the account).
"""

from __future__ import annotations

import pytest

from accounts.models import Tenant
from accounts.services import api_key_create, user_create
from activations import selectors
from catalog import upstream
from platfone.emulator import Emulator, emulator_session
from wallet import services as wallet

from .test_api_flow import age

pytestmark = pytest.mark.django_db

UPSTREAM_KEY = "acme-upstream"
HONEST_SUCCESSES = 5
SWARM = 90  # without the guard, 90 abandoned numbers after 5 successes is 5 / 95 = 5 %: blocked


@pytest.fixture
def strict_supplier(monkeypatch, tenant):
    """A supplier that blocks the account for 24 h when its success rate falls below 7 % (after 10 orders)."""
    emu = Emulator(api_keys={UPSTREAM_KEY: 10_000_000}, rate_limits=False, success_rate_block=True, max_active=1000)
    monkeypatch.setattr(upstream, "session_factory", lambda tenant: emulator_session(emu))
    Tenant.objects.filter(pk=tenant.pk).update(
        platfone_base_url="http://platfone.test/api/v1", platfone_api_key=UPSTREAM_KEY, rate_limit_per_minute=10**6
    )
    tenant.refresh_from_db()
    yield emu
    emu.close()


def new_user(tenant, n, cents=1000):
    user = user_create(tenant=tenant, email=f"user{n}@swarm.test", password=None)
    wallet.deposit(user=user, amount_cents=cents, idempotency_key=f"swarm:{n}", actor="test")
    return user, api_key_create(user=user).raw_key


def order(api, key):
    return api.post(
        "/api/v1/activations", {"service_id": "whatsapp", "country_id": "us"}, format="json", HTTP_X_API_KEY=key
    )


def test_case7_a_swarm_of_new_accounts_cannot_block_the_supplier_account(api, strict_supplier, tenant):
    emu = strict_supplier
    # given honest users whose numbers received their SMS
    honest, honest_key = new_user(tenant, "honest", cents=10_000)
    for _ in range(HONEST_SUCCESSES):
        data = order(api, honest_key).json()["data"]
        emu.deliver_sms(data["activation_id"], code="1")
        age(data["id"])
        api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=honest_key)
        api.post(f"/api/v1/activations/{data['id']}/finalize", HTTP_X_API_KEY=honest_key)
    assert selectors.user_has_good_record(user=honest)

    # when a swarm of fresh accounts each orders a number and abandons it (it expires without an SMS)
    answers = []
    for n in range(SWARM):
        _, key = new_user(tenant, n)
        response = order(api, key)
        answers.append(response.json().get("code", "ok"))
        if response.status_code == 200:
            emu.expire_activation(response.json()["data"]["activation_id"])

    # then the guard stopped the swarm before the supplier's 7 % line
    assert "success_rate_guard" in answers
    assert "upstream_unavailable" not in answers  # the supplier never refused (no LowSuccessRate block)
    placed = answers.count("ok")
    assert HONEST_SUCCESSES / (HONEST_SUCCESSES + placed) >= 0.07
    # and the honest user, with a good record, still orders
    assert order(api, honest_key).status_code == 200
    assert emu.activations(UPSTREAM_KEY)[-1]["activation_status"] == "active"


def test_case7_the_guard_refuses_with_a_clear_code_and_lets_good_records_through(api, strict_supplier, tenant):
    Tenant.objects.filter(pk=tenant.pk).update(success_guard_percent=50)
    tenant.refresh_from_db()
    for n in range(10):
        _, key = new_user(tenant, n)
        assert order(api, key).status_code == 200
    assert selectors.tenant_success_rate_low(tenant=tenant)  # 0 SMS of 10 waiting orders, counted as failures

    _, newcomer_key = new_user(tenant, "newcomer")
    refused = order(api, newcomer_key)

    assert refused.status_code == 429
    body = refused.json()
    assert body["code"] == "success_rate_guard" and "try again later" in body["error"].lower()
    assert refused["Retry-After"] == str(selectors.SUCCESS_GUARD_RETRY_AFTER_SECONDS)
    # a guard of 0 % is off
    Tenant.objects.filter(pk=tenant.pk).update(success_guard_percent=0)
    assert order(api, newcomer_key).status_code == 200
