"""No stampede: a burst of identical price requests costs one upstream call, in threads, on any database.

The lock and the cached price live in the shared Django cache (LocMem in one process, Redis across processes);
threads here stand in for concurrent web workers.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from catalog import price_cache, pricing, services
from catalog.errors import PriceUnavailable
from catalog.models import MarkupRule

BURST = 50


def run_in_threads(count, work):
    """Run ``work()`` in ``count`` threads released at the same instant; return their results or exceptions."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def runner(index):
        try:
            barrier.wait(timeout=30)
            results[index] = work()
        except Exception as exc:  # collected and asserted on by the test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.django_db(transaction=True)
class TestBurst:
    def test_50_simultaneous_quotes_make_exactly_one_upstream_call(self, synced, emulator):
        # given an upstream slow enough that every request arrives while the first call is in flight
        emulator.configure(latency_ms=300)
        # when
        quotes = run_in_threads(BURST, lambda: services.price_quote(tenant=synced, service_id="whatsapp",
                                                                     country_id="us"))
        # then
        assert emulator.request_count("get_price") == 1
        assert all(isinstance(quote, services.PriceQuote) for quote in quotes), quotes
        assert len({(q.sell_price_cents, q.backend_cents, q.fetched_at) for q in quotes}) == 1

    def test_50_simultaneous_api_requests_make_exactly_one_upstream_call(self, synced, emulator, alice_key):
        # given (the key's last use is recorded first, so the burst only reads the database)
        url = "/api/v1/index.php?path=price&service_id=telegram&country_id=de"
        APIClient().get("/api/v1/wallet", HTTP_X_API_KEY=alice_key)
        MarkupRule.objects.create(tenant=synced, percent_bp=2000)
        emulator.configure(latency_ms=300)
        # when
        responses = run_in_threads(BURST, lambda: APIClient().get(url, HTTP_X_API_KEY=alice_key))
        # then
        assert emulator.request_count("get_price") == 1
        assert Counter(getattr(r, "status_code", r) for r in responses) == {200: BURST}
        assert len({r.content for r in responses}) == 1

    def test_when_the_one_call_fails_nobody_else_calls_and_everyone_gets_unavailable(self, synced, emulator):
        # given
        emulator.configure(latency_ms=100)
        emulator.add_fault(kind="error", endpoint="get_price", probability=1.0)
        # when
        results = run_in_threads(BURST, lambda: services.price_quote(tenant=synced, service_id="whatsapp",
                                                                      country_id="us"))
        # then: one call plus the client's two retries, and no failure other than PriceUnavailable
        assert emulator.request_count("get_price") == 3
        assert all(isinstance(result, PriceUnavailable) for result in results), results

    def test_different_pairs_are_fetched_independently(self, synced, emulator):
        pairs = [("whatsapp", "us"), ("telegram", "uk"), ("viber", "de")] * 10
        iterator = iter(pairs)
        lock = threading.Lock()

        def quote():
            with lock:
                service_id, country_id = next(iterator)
            return services.price_quote(tenant=synced, service_id=service_id, country_id=country_id)

        results = run_in_threads(len(pairs), quote)
        assert all(isinstance(result, services.PriceQuote) for result in results), results
        assert emulator.request_count("get_price") == 3


@pytest.mark.django_db
class TestWaiting:
    """The waiting side of the lock, step by step (no thread timing involved)."""

    def keys(self, tenant):
        return pricing.price_cache_keys(tenant=tenant, service_id="whatsapp", country_id="us")

    def test_a_request_that_finds_the_lock_taken_waits_for_the_leaders_price(self, synced, emulator, monkeypatch):
        # given another process holds the lock and publishes its price while we poll
        keys = self.keys(synced)
        price_cache.cache.add(keys.lock, "someone-else", timeout=30)
        published = {"backend": 123}

        def sleep_and_publish(seconds):
            price_cache.cache.set(keys.fresh, {"outcome": "price", "min": 100, "max": 200, "suggested": 123, "count": 5,
                                           "fetched_at": price_cache.now()}, timeout=90)

        monkeypatch.setattr(price_cache.time, "sleep", sleep_and_publish)
        # when
        quote = services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        # then
        assert quote.backend_cents == published["backend"]
        assert emulator.request_count("get_price") == 0

    def test_a_waiter_gives_up_after_the_wait_limit_without_calling_upstream(self, synced, emulator):
        price_cache.cache.add(self.keys(synced).lock, "someone-else", timeout=30)
        with override_settings(PRICE_LOCK_WAIT_SECONDS=0.2), pytest.raises(PriceUnavailable):
            services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        assert emulator.request_count("get_price") == 0

    def test_a_waiter_that_gives_up_serves_a_recent_price(self, synced, emulator):
        # given a price fetched earlier whose fresh entry expired, and a leader stuck on the upstream
        first = services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        keys = self.keys(synced)
        price_cache.cache.delete(keys.fresh)
        price_cache.cache.add(keys.lock, "someone-else", timeout=30)
        # when
        with override_settings(PRICE_LOCK_WAIT_SECONDS=0.2):
            quote = services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        # then
        assert quote.stale and quote.sell_price_cents == first.sell_price_cents
        assert emulator.request_count("get_price") == 1

    def test_a_lock_left_by_a_crashed_process_expires(self, synced, emulator):
        keys = self.keys(synced)
        price_cache.cache.add(keys.lock, "crashed", timeout=1)
        price_cache.cache.delete(keys.lock)  # what its expiry does
        assert services.price_quote(tenant=synced, service_id="whatsapp", country_id="us").count > 0

    def test_the_leader_releases_the_lock(self, synced, emulator):
        services.price_quote(tenant=synced, service_id="whatsapp", country_id="us")
        assert price_cache.cache.get(self.keys(synced).lock) is None

    def test_the_lock_outlives_the_slowest_upstream_call(self):
        # 3 attempts x (3.05 s connect + 10 s read + 1 s backoff) + margin
        assert price_cache.lock_seconds() >= 3 * (3.05 + 10)
