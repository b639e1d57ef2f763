"""Price lists (``catalog.services.price_list``): many pairs' sell prices from the upstream's bulk lists, cached,
never one upstream price call per pair."""

from __future__ import annotations

import pytest

from catalog import price_cache, price_lists
from catalog.errors import PriceUnavailable
from catalog.markup import DEFAULT_TERMS
from catalog.models import MarkupRule, Service
from catalog.services import price_list, price_quote
from catalog.upstream import upstream_account
from platfone.budget import RequestBudget
from platfone.emulator.catalog import COUNTRIES_BY_ID, SERVICES, SERVICES_BY_ID, seeded_price

pytestmark = pytest.mark.django_db


def listed(result) -> dict[tuple[str, str], tuple[int, int]]:
    return {(p.service_id, p.country_id): (p.sell_price_cents, p.count) for p in result.prices}


def test_a_countrys_list_has_every_service_at_our_sell_price_from_one_upstream_call(synced, emulator):
    # when, three times
    for _ in range(3):
        result = price_list(tenant=synced, country_id="us")
    # then
    prices = listed(result)
    assert {service for service, _ in prices} == {s.service_id for s in SERVICES}
    seeded = seeded_price(SERVICES_BY_ID["whatsapp"], COUNTRIES_BY_ID["us"])
    assert prices[("whatsapp", "us")] == (DEFAULT_TERMS.sell(seeded.suggested), seeded.count)
    assert result.stale is False
    assert emulator.request_count("prices_by_country") == 1
    assert emulator.request_count("get_price") == 0


def test_a_listed_price_is_the_price_a_quote_of_the_pair_gives(synced):
    result = listed(price_list(tenant=synced, service_id="telegram"))
    quote = price_quote(tenant=synced, service_id="telegram", country_id="de")
    assert result[("telegram", "de")] == (quote.sell_price_cents, quote.count)
    assert {country for _, country in result} >= {"us", "uk", "de", "in", "id"}


def test_while_the_full_list_is_fresh_every_narrower_list_costs_nothing(synced, emulator):
    everything = listed(price_list(tenant=synced))
    one_country = listed(price_list(tenant=synced, country_id="uk"))
    one_service = listed(price_list(tenant=synced, service_id="discord"))
    one_pair = listed(price_list(tenant=synced, service_id="discord", country_id="uk"))
    assert one_country == {pair: value for pair, value in everything.items() if pair[1] == "uk"}
    assert one_service == {pair: value for pair, value in everything.items() if pair[0] == "discord"}
    assert one_pair == {("discord", "uk"): everything[("discord", "uk")]}
    assert emulator.request_count("prices_by_country") == 1
    assert emulator.request_count("prices_by_service") == 0


def test_sell_prices_follow_the_most_specific_markup_rule_in_one_query(synced, django_assert_max_num_queries):
    MarkupRule.objects.create(tenant=synced, percent_bp=5000)  # the storefront's default: 50 %
    MarkupRule.objects.create(tenant=synced, service_id="whatsapp", percent_bp=0, fixed_cents=7)
    price_list(tenant=synced, country_id="us")  # warm the cache
    with django_assert_max_num_queries(4):
        prices = listed(price_list(tenant=synced, country_id="us"))
    whatsapp = seeded_price(SERVICES_BY_ID["whatsapp"], COUNTRIES_BY_ID["us"]).suggested
    telegram = seeded_price(SERVICES_BY_ID["telegram"], COUNTRIES_BY_ID["us"]).suggested
    assert prices[("whatsapp", "us")][0] == whatsapp + 7
    assert prices[("telegram", "us")][0] == telegram + -(-telegram * 5000 // 10000)
    assert (
        prices[("whatsapp", "us")][0]
        == price_quote(tenant=synced, service_id="whatsapp", country_id="us").sell_price_cents
    )


def test_only_what_the_storefronts_catalog_sells_is_listed(synced):
    Service.objects.filter(tenant=synced, service_id="discord").update(is_available=False)
    prices = listed(price_list(tenant=synced, country_id="us"))
    assert ("discord", "us") not in prices and ("whatsapp", "us") in prices


def test_pairs_without_stock_are_listed_with_count_zero_and_nonsense_is_left_out(synced, emulator):
    emulator.set_price("telegram", "us", min=0, max=0, suggested=0, count=10)
    prices = listed(price_list(tenant=synced, country_id="us_v"))
    assert prices[("whatsapp", "us_v")][1] == 0
    assert ("telegram", "us") not in listed(price_list(tenant=synced, country_id="us"))


def test_an_unknown_country_is_an_empty_list(synced):
    assert price_list(tenant=synced, country_id="zz").prices == ()


def expire_fresh(tenant, scope):
    price_cache.cache.delete(price_lists._keys(upstream_account(tenant), scope).fresh)


def test_a_recent_list_is_served_stale_while_the_upstream_fails(synced, emulator):
    before = listed(price_list(tenant=synced, country_id="us"))
    expire_fresh(synced, "country:us")
    emulator.add_fault(endpoint="prices_by_country", kind="error", status=500, probability=1.0)
    result = price_list(tenant=synced, country_id="us")
    assert result.stale is True and listed(result) == before


def test_without_a_recent_list_an_outage_is_price_unavailable(synced, emulator):
    emulator.add_fault(endpoint="prices_by_country", kind="timeout", probability=1.0, seconds=0)
    with pytest.raises(PriceUnavailable):
        price_list(tenant=synced, country_id="us")


def test_an_exhausted_bulk_budget_serves_the_stale_list_and_calls_nothing(synced, emulator):
    # given a list fetched earlier, whose 90 s have passed, and the minute's bulk budget spent
    before = listed(price_list(tenant=synced, country_id="us"))
    expire_fresh(synced, "country:us")
    budget = RequestBudget(account=upstream_account(synced), cache=price_cache.cache)
    budget.exhaust_until("prices_by_country", int(price_cache.now()) + 60)
    emulator.reset_counters()
    # when
    stale = price_list(tenant=synced, country_id="us")
    with pytest.raises(PriceUnavailable):
        price_list(tenant=synced, country_id="es")
    # then
    assert stale.stale is True and listed(stale) == before
    assert emulator.request_count("prices_by_country") == 0
