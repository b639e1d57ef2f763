"""Case 3 (hostile use): one user cannot spend the tenant's shared upstream budget.

No user may use more than the tenant's ``upstream_fair_share_percent`` (default 25 %) of any supplier method's
per-minute budget: past it, that user gets 429 ``rate_limit`` with ``Retry-After``, and nobody else is
affected. Prices for pairs not in the cache come from the bulk price list (one call covers every country of a
service) when the per-pair budget runs low, instead of a 503.
"""

from __future__ import annotations

import time

import pytest

from accounts.models import Tenant
from accounts.services import api_key_create
from catalog.upstream import client_for_tenant
from platfone import budget as budget_module
from platfone.budget import RequestBudget

from .test_api_flow import age, assert_error, order

pytestmark = pytest.mark.django_db

SERVICES = ["whatsapp", "telegram", "signal", "viber", "wechat", "line", "google", "yahoo", "microsoft"]
COUNTRIES = ["us", "uk", "ca", "de", "fr", "nl", "es", "it", "pt", "pl", "se"]


@pytest.fixture(autouse=True)
def one_budget_window(monkeypatch, tenant):
    """Every test inside one budget minute; the per-key API rate limit out of the way."""
    window = int(time.time() // 60)
    monkeypatch.setattr(RequestBudget, "_window", lambda self: (window, 60))
    Tenant.objects.filter(pk=tenant.pk).update(
        rate_limit_per_minute=1_000_000,
        max_active_activations_per_user=50,
        success_guard_percent=0,  # see case 7
    )
    tenant.refresh_from_db()


def price(api, key, service_id, country_id):
    return api.get(f"/api/v1/price?service_id={service_id}&country_id={country_id}", HTTP_X_API_KEY=key)


def share_of(tenant, method):
    client = client_for_tenant(tenant, spender="user:0")
    return client.budget.share_limit(method, tenant.upstream_fair_share_percent / 100)


def test_case3_price_requests_over_many_pairs_spend_only_the_users_share(api, emulator, tenant, alice_key, bob):
    # given: alice asks for the price of pair after pair, none of them cached
    pairs = [(s, c) for s in SERVICES for c in COUNTRIES]
    share = share_of(tenant, "get_price")
    assert share == 13  # 25 % of 54 (60 a minute, less the client's 10 % safety)

    answers = [price(api, alice_key, s, c) for s, c in pairs[: share + 1]]

    # then: her share answered, the next one is her own 429
    assert [a.status_code for a in answers[:share]] == [200] * share
    body = assert_error(answers[share], 429, "rate_limit")
    assert 1 <= int(answers[share]["Retry-After"]) <= 60 and "share" in body["error"]
    assert emulator.request_count("get_price") == share
    # and bob, in the same storefront, still gets an uncached price
    bob_key = api_key_create(user=bob).raw_key
    assert price(api, bob_key, *pairs[-1]).status_code == 200


def test_case3_with_the_per_pair_budget_low_an_uncached_price_comes_from_the_bulk_list(
    api, emulator, tenant, alice_key
):
    # given the per-pair price budget almost spent (by the whole storefront)
    client = client_for_tenant(tenant)
    while client.budget_remaining("get_price") > 5:
        client.budget.spend("get_price")
    emulator.reset_counters()

    # when
    first = price(api, alice_key, "telegram", "de")
    neighbour = price(api, alice_key, "telegram", "fr")

    # then one bulk call answered both, and no per-pair call was made
    assert first.status_code == 200 and neighbour.status_code == 200, (first.content, neighbour.content)
    assert emulator.request_count("prices_by_service") == 1
    assert emulator.request_count("get_price") == 0
    expected = emulator.get_price("acme-upstream", service_id="telegram", country_id="de")
    assert first.json()["data"]["backend_cents"] == expected["price"]["suggested"]


def test_case3_polls_spend_only_the_users_share_of_the_activation_reads(
    api, emulator, tenant, alice, alice_key, bob, fund, monkeypatch
):
    # given a small read budget (40 a minute: 36 after the safety margin, a share of 9)
    monkeypatch.setattr(budget_module, "DEFAULT_LIMITS", {**budget_module.DEFAULT_LIMITS, "get_activation": 40})
    share = share_of(tenant, "get_activation")
    assert share == 9
    fund(alice, 50_000)
    mine = [order(api, alice_key).json()["data"] for _ in range(share + 1)]
    bob_key = api_key_create(user=bob).raw_key
    fund(bob, 5000)
    his = order(api, bob_key).json()["data"]
    emulator.deliver_sms(his["activation_id"], code="246810")
    emulator.reset_counters()

    # when alice polls every one of hers with a stale state, each a read from the supplier
    answers = []
    for data in mine:
        age(data["id"])
        answers.append(api.get(f"/api/v1/activations/{data['id']}/poll", HTTP_X_API_KEY=alice_key))

    # then her share was read, the rest is her 429
    assert [a.status_code for a in answers] == [200] * share + [429]
    assert_error(answers[-1], 429, "rate_limit")
    assert emulator.request_count("get_activation") == share
    # and bob's SMS is visible to him all the same
    age(his["id"])
    poll = api.get(f"/api/v1/activations/{his['id']}/poll", HTTP_X_API_KEY=bob_key)
    assert poll.json()["data"]["sms_code"] == "246810"


def test_case3_the_share_is_a_tenant_setting(api, emulator, tenant, alice_key):
    Tenant.objects.filter(pk=tenant.pk).update(upstream_fair_share_percent=10)
    tenant.refresh_from_db()
    share = share_of(tenant, "get_price")
    assert share == 5
    answers = [price(api, alice_key, "whatsapp", c) for c in COUNTRIES[: share + 1]]
    assert [a.status_code for a in answers] == [200] * share + [429]
