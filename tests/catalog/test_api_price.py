"""GET path=price as the public document describes it: shape, markup, validation, errors, upstream faults."""

from __future__ import annotations

import pytest
from django.test import override_settings

from catalog import price_cache, pricing, selectors, services
from catalog.models import MarkupRule, Service
from catalog.upstream import upstream_account
from platfone.budget import RequestBudget
from platfone.emulator import catalog as seeded

pytestmark = pytest.mark.django_db

PRICE_URLS = [
    "/api/v1/index.php?path=price&service_id={s}&country_id={c}",
    "/api/v1/index.php/price?service_id={s}&country_id={c}",
    "/api/v1/price?service_id={s}&country_id={c}",
]


def seeded_price(service_id: str, country_id: str) -> seeded.PriceInfo:
    return seeded.seeded_price(seeded.SERVICES_BY_ID[service_id], seeded.COUNTRIES_BY_ID[country_id])


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["ok"] is False and body["code"] == code and body["error"]
    return body


def get_price(api, key, service_id="whatsapp", country_id="us"):
    return api.get(f"/api/v1/price?service_id={service_id}&country_id={country_id}", HTTP_X_API_KEY=key)


@pytest.mark.parametrize("url", PRICE_URLS)
def test_the_price_has_the_documents_shape_with_the_tenants_markup(api, synced, alice_key, url):
    # given
    upstream = seeded_price("whatsapp", "us")
    MarkupRule.objects.create(tenant=synced, percent_bp=1000, min_margin_cents=1)
    # when
    response = api.get(url.format(s="whatsapp", c="us"), HTTP_X_API_KEY=alice_key)
    # then
    assert response.status_code == 200, response.content
    sell = lambda cost: cost + -(-cost // 10)  # noqa: E731 - 10 %, rounded up
    assert response.json() == {
        "ok": True,
        "data": {
            "price": {"suggested": sell(upstream.suggested), "min": sell(upstream.min), "max": sell(upstream.max)},
            "backend_cents": upstream.suggested,
            "sell_price_cents": sell(upstream.suggested),
            "count": upstream.count,
        },
    }
    assert list(response.json()["data"]) == ["price", "backend_cents", "sell_price_cents", "count"]
    assert list(response.json()["data"]["price"]) == ["suggested", "min", "max"]


def test_the_price_uses_the_most_specific_rule(api, synced, alice_key):
    # given
    MarkupRule.objects.create(tenant=synced, percent_bp=0, fixed_cents=10, min_margin_cents=0)
    MarkupRule.objects.create(tenant=synced, service_id="whatsapp", country_id="us", percent_bp=0, fixed_cents=50,
                              min_margin_cents=0)
    upstream = seeded_price("whatsapp", "us")
    # when
    data = get_price(api, alice_key).json()["data"]
    other = get_price(api, alice_key, "telegram", "us").json()["data"]
    # then
    assert data["sell_price_cents"] == upstream.suggested + 50
    assert other["sell_price_cents"] == seeded_price("telegram", "us").suggested + 10


def test_the_quote_is_the_price_activations_will_charge(synced):
    quote = services.price_quote(tenant=synced, service_id="telegram", country_id="uk")
    upstream = seeded_price("telegram", "uk")
    assert quote.backend_cents == upstream.suggested
    terms = selectors.markup_terms_for(tenant=synced, service_id="telegram", country_id="uk")
    assert quote.sell_price_cents == quote.suggested_sell_cents == terms.sell(upstream.suggested)
    assert quote.terms == terms
    assert (quote.service_id, quote.country_id, quote.count, quote.stale) == ("telegram", "uk", upstream.count, False)
    assert quote.fetched_at.tzinfo is not None


class TestValidation:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("country_id=us", "service_id"),
            ("service_id=whatsapp", "country_id"),
            ("service_id=&country_id=us", "service_id"),
            ("service_id=whatsapp&country_id=", "country_id"),
            ("service_id=" + "a" * 31 + "&country_id=us", "service_id"),
            ("service_id=what%27s&country_id=us", "service_id"),
            ("service_id=whats%20app&country_id=us", "service_id"),
            ("service_id=what.sapp&country_id=us", "service_id"),
            ("service_id=..&country_id=us", "service_id"),
            ("service_id=whatsapp&country_id=u", "country_id"),
            ("service_id=whatsapp&country_id=abcdefghij", "country_id"),
            ("service_id=whatsapp&country_id=us_", "country_id"),
            ("service_id=whatsapp&country_id=_us", "country_id"),
            ("service_id=whatsapp&country_id=u%2Fs", "country_id"),
            ("service_id=whatsapp&country_id=%2E%2E", "country_id"),
            ("service_id=whatsapp&country_id=" + "a" * 5000 + "!", "country_id"),
        ],
    )
    def test_a_bad_parameter_is_400_invalid_params_naming_the_field(self, api, synced, alice_key, emulator, query,
                                                                    field):
        response = api.get(f"/api/v1/index.php?path=price&{query}", HTTP_X_API_KEY=alice_key)
        body = assert_error(response, 400, "invalid_params")
        assert field in body["error"]
        assert emulator.request_count("get_price") == 0

    @pytest.mark.parametrize(("service_id", "country_id"), [("7eleven", "us"), ("other", "us_v"), ("a", "uk"),
                                                            ("A-b_9", "a-_-b")])
    def test_documented_id_shapes_are_accepted(self, api, synced, alice_key, service_id, country_id):
        response = get_price(api, alice_key, service_id, country_id)
        assert response.status_code in (200, 404), response.content
        assert response.json()["code" if response.status_code == 404 else "ok"] in ("not_found", True)

    @pytest.mark.parametrize("url", PRICE_URLS)
    def test_without_a_key_it_is_401(self, api, synced, url):
        assert_error(api.get(url.format(s="whatsapp", c="us")), 401, "invalid_key")

    def test_a_wrong_key_is_401(self, api, synced):
        assert_error(get_price(api, "abcdefgh.wrong"), 401, "invalid_key")

    def test_post_is_405(self, api, synced, alice_key):
        response = api.post("/api/v1/price?service_id=whatsapp&country_id=us", {}, HTTP_X_API_KEY=alice_key)
        assert_error(response, 405, "method_not_allowed")


class TestUnknownAndOutOfStock:
    @pytest.mark.parametrize(("service_id", "country_id"), [("nosuchservice", "us"), ("whatsapp", "zz")])
    def test_an_unknown_service_or_country_is_404_not_found_without_an_upstream_call(
            self, api, synced, alice_key, emulator, service_id, country_id):
        assert_error(get_price(api, alice_key, service_id, country_id), 404, "not_found")
        assert emulator.request_count("get_price") == 0

    def test_a_service_gone_from_the_catalog_is_404(self, api, synced, alice_key):
        Service.objects.filter(tenant=synced, service_id="whatsapp").update(is_available=False)
        assert_error(get_price(api, alice_key), 404, "not_found")

    def test_before_the_first_sync_the_upstream_decides(self, api, emulator, alice_key):
        assert get_price(api, alice_key).status_code == 200
        assert_error(get_price(api, alice_key, "nosuchservice", "us"), 404, "not_found")
        assert emulator.request_count("get_price") == 2

    def test_no_stock_is_404_no_numbers(self, api, synced, alice_key):
        # ("whatsapp", "us_v") is seeded out of stock: the upstream answers count 0
        body = assert_error(get_price(api, alice_key, "whatsapp", "us_v"), 404, "no_numbers")
        assert "No numbers" in body["error"]

    def test_an_upstream_no_numbers_error_is_404_no_numbers(self, api, synced, alice_key, emulator):
        emulator.add_fault(kind="error", endpoint="get_price", status=404, error_name="NoNumbersAvailableException")
        assert_error(get_price(api, alice_key), 404, "no_numbers")

    def test_no_stock_is_cached_like_a_price(self, api, synced, alice_key, emulator):
        get_price(api, alice_key, "whatsapp", "us_v")
        get_price(api, alice_key, "whatsapp", "us_v")
        assert emulator.request_count("get_price") == 1


class TestCaching:
    def test_a_price_is_fetched_once_per_90_seconds(self, api, synced, alice_key, emulator):
        # given
        first = get_price(api, alice_key).json()
        # when the upstream price moves within the window
        emulator.set_price("whatsapp", "us", min=100, max=900, suggested=500, count=7)
        second = get_price(api, alice_key).json()
        # then the quote is unchanged, and only one upstream call was made
        assert second == first
        assert emulator.request_count("get_price") == 1

    def test_the_cache_lives_90_seconds_by_default(self, synced, monkeypatch):
        # given a cache that records the timeouts it is given
        timeouts = {}
        real_cache = price_cache.cache

        class RecordingCache:
            def __getattr__(self, name):
                return getattr(real_cache, name)

            def set(self, key, value, timeout=None):
                timeouts[key.rsplit(":", 1)[1]] = timeout
                real_cache.set(key, value, timeout)

        monkeypatch.setattr(price_cache, "cache", RecordingCache())
        # when
        services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        # then
        assert timeouts == {"fresh": 90, "good": 600}

    def test_after_the_window_the_new_price_is_served(self, api, synced, alice_key, emulator):
        # given
        get_price(api, alice_key)
        emulator.set_price("whatsapp", "us", min=100, max=900, suggested=500, count=7)
        # when the fresh entry expires
        price_cache.cache.delete(pricing.price_cache_keys(tenant=synced, service_id="whatsapp", country_id="us").fresh)
        data = get_price(api, alice_key).json()["data"]
        # then
        assert (data["backend_cents"], data["count"]) == (500, 7)
        assert emulator.request_count("get_price") == 2

    def test_tenants_with_different_upstream_accounts_do_not_share_prices(self, synced, other_tenant):
        services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        assert upstream_account(synced) != upstream_account(other_tenant)
        keys = pricing.price_cache_keys(tenant=other_tenant, service_id="whatsapp", country_id="us")
        assert price_cache.cache.get(keys.fresh) is None

    def test_tenants_on_different_upstream_accounts_do_not_share_cached_prices(self, synced, other_tenant, emulator):
        # given globex has its own upstream account (two tenants may not share one: see accounts.Tenant)
        emulator.set_balance("globex-own-account", 100_000)
        other_tenant.platfone_base_url, other_tenant.platfone_api_key = synced.platfone_base_url, "globex-own-account"
        other_tenant.save()
        MarkupRule.objects.create(tenant=other_tenant, percent_bp=0, fixed_cents=100, min_margin_cents=0)
        # when
        acme = services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        globex = services.price_quote(tenant=other_tenant, service_id="whatsapp", country_id="us")
        # then
        assert emulator.request_count("get_price") == 2
        assert acme.backend_cents == globex.backend_cents
        assert globex.sell_price_cents == globex.backend_cents + 100 != acme.sell_price_cents


class TestUpstreamFaults:
    """Timeouts, 500s, garbage, 429s and our own exhausted budget: a recent price is served, else 503."""

    FAULTS = [
        pytest.param({"kind": "timeout"}, id="timeout"),
        pytest.param({"kind": "error", "status": 500}, id="500"),
        pytest.param({"kind": "error", "status": 502}, id="502"),
        pytest.param({"kind": "garbage", "variant": "text"}, id="garbage-text"),
        pytest.param({"kind": "garbage", "variant": "json"}, id="garbage-json"),
        pytest.param({"kind": "ratelimit", "retry_after": 30}, id="429"),
        pytest.param({"kind": "error", "status": 401, "error_name": "UnauthorizedException"}, id="401"),
    ]

    def expire_fresh_entry(self, tenant):
        price_cache.cache.delete(pricing.price_cache_keys(tenant=tenant, service_id="whatsapp", country_id="us").fresh)

    @pytest.mark.parametrize("fault", FAULTS)
    def test_without_a_cached_price_it_is_503_upstream_unavailable(self, api, synced, alice_key, emulator, fault):
        # given
        emulator.add_fault(endpoint="get_price", probability=1.0, **fault)
        # when
        response = get_price(api, alice_key)
        # then
        assert_error(response, 503, "upstream_unavailable")
        assert int(response["Retry-After"]) >= 1

    @pytest.mark.parametrize("fault", FAULTS)
    def test_a_recent_price_is_served_stale_while_the_upstream_fails(self, api, synced, alice_key, emulator, fault):
        # given a price fetched earlier, whose 90 s have passed
        before = get_price(api, alice_key).json()
        self.expire_fresh_entry(synced)
        emulator.add_fault(endpoint="get_price", probability=1.0, **fault)
        # when
        response = get_price(api, alice_key)
        # then
        assert response.status_code == 200
        assert response.json() == before
        assert response["X-Price-Stale"] == "1"

    def test_a_price_older_than_the_stale_limit_is_not_served(self, api, synced, alice_key, emulator, monkeypatch):
        # given a price fetched 601 s ago
        get_price(api, alice_key)
        self.expire_fresh_entry(synced)
        real_now = price_cache.now()
        monkeypatch.setattr(price_cache, "now", lambda: real_now + 601)
        emulator.add_fault(kind="error", endpoint="get_price", probability=1.0)
        # when / then
        assert_error(get_price(api, alice_key), 503, "upstream_unavailable")

    def test_the_stale_limit_is_a_setting(self, api, synced, alice_key, emulator):
        get_price(api, alice_key)
        self.expire_fresh_entry(synced)
        emulator.add_fault(kind="error", endpoint="get_price", probability=1.0)
        with override_settings(PRICE_STALE_MAX_SECONDS=0):
            assert_error(get_price(api, alice_key), 503, "upstream_unavailable")
        assert get_price(api, alice_key).status_code == 200

    def test_an_exhausted_price_budget_serves_the_stale_price_without_calling_upstream(
            self, api, synced, alice_key, emulator):
        # given both price budgets spent (the per-pair one and the bulk lists' that backs it up)
        before = get_price(api, alice_key).json()
        self.expire_fresh_entry(synced)
        budget = RequestBudget(account=upstream_account(synced), cache=price_cache.cache)
        budget.exhaust_until("get_price", int(price_cache.now()) + 60)
        budget.exhaust_until("prices_by_service", int(price_cache.now()) + 60)
        emulator.reset_counters()
        # when
        stale = get_price(api, alice_key)
        unknown_pair = get_price(api, alice_key, "telegram", "de")
        # then
        assert stale.json() == before and stale["X-Price-Stale"] == "1"
        assert_error(unknown_pair, 503, "upstream_unavailable")
        assert emulator.request_count("get_price") == 0

    def test_after_a_failure_the_pair_is_not_retried_at_once(self, api, synced, alice_key, emulator):
        # given
        emulator.add_fault(kind="error", endpoint="get_price", count=3)  # one call and its two retries
        assert_error(get_price(api, alice_key), 503, "upstream_unavailable")
        # when
        again = get_price(api, alice_key)
        # then a burst of clients does not hammer a failing upstream
        assert_error(again, 503, "upstream_unavailable")
        assert emulator.request_count("get_price") == 3

    def test_once_the_upstream_recovers_prices_are_live_again(self, api, synced, alice_key, emulator):
        emulator.add_fault(kind="error", endpoint="get_price", count=3)
        assert_error(get_price(api, alice_key), 503, "upstream_unavailable")
        keys = pricing.price_cache_keys(tenant=synced, service_id="whatsapp", country_id="us")
        price_cache.cache.delete(keys.failure)
        assert get_price(api, alice_key).status_code == 200

    def test_a_tenant_without_upstream_credentials_is_not_configured(self, api, synced, alice_key):
        # an operator's mistake that waiting does not fix: not the retry-later 503 of an outage
        synced.platfone_api_key = ""
        synced.save()
        response = get_price(api, alice_key)
        assert_error(response, 409, "not_configured")
        assert "Retry-After" not in response

    def test_a_nonsensical_upstream_price_is_treated_as_an_outage(self, api, synced, alice_key, emulator, monkeypatch):
        # given an upstream answering a negative price (the emulator itself refuses to be set to one)
        original = emulator.get_price

        def negative_price(api_key, **ids):
            body = original(api_key, **ids)
            return {**body, "price": {**body["price"], "suggested": -5}}

        monkeypatch.setattr(emulator, "get_price", negative_price)
        # when / then
        assert_error(get_price(api, alice_key), 503, "upstream_unavailable")

    def test_a_single_retried_failure_is_invisible(self, api, synced, alice_key, emulator):
        emulator.add_fault(kind="timeout", endpoint="get_price", count=1)
        assert get_price(api, alice_key).status_code == 200
        assert emulator.request_count("get_price") == 2


def test_another_tenants_user_gets_their_own_tenants_markup(api, synced, alice_key, charlie_key, other_tenant):
    # given
    services.catalog_sync(tenant=other_tenant)
    MarkupRule.objects.create(tenant=other_tenant, percent_bp=0, fixed_cents=77, min_margin_cents=0)
    upstream = seeded_price("whatsapp", "us")
    # when
    charlie = get_price(api, charlie_key).json()["data"]
    alice = get_price(api, alice_key).json()["data"]
    # then
    assert charlie["sell_price_cents"] == upstream.suggested + 77
    assert alice["sell_price_cents"] != charlie["sell_price_cents"]
