"""RequestBudget and MemoryCache: fixed windows, safety fraction, shared counters, concurrency."""

from __future__ import annotations

import threading

import pytest

from platfone.budget import DEFAULT_LIMITS, DOCUMENTED_LIMITS, MemoryCache, RequestBudget, account_fingerprint
from platfone.errors import BudgetExhausted

from .conftest import T0, FakeClock


def make_budget(clock, cache=None, **limits):
    return RequestBudget(account="acct", cache=cache or MemoryCache(), limits=limits, safety=1.0, clock=clock)


def test_it_follows_the_documented_table():
    assert DOCUMENTED_LIMITS["get_activation"] == 300
    assert DOCUMENTED_LIMITS["retry_activation"] == 50
    assert DOCUMENTED_LIMITS["activation_history"] == 6
    assert DOCUMENTED_LIMITS["get_price"] == 60
    assert set(DEFAULT_LIMITS) >= {"finalize_activation", "popular_services", "create_report", "list_reports"}


def test_it_raises_with_the_seconds_to_the_next_window():
    clock = FakeClock(T0 - T0 % 60 + 45)
    budget = make_budget(clock, countries=1)
    budget.spend("countries")

    with pytest.raises(BudgetExhausted) as raised:
        budget.spend("countries")

    assert raised.value.retry_after == 15
    assert raised.value.reset_at == T0 - T0 % 60 + 60


def test_methods_have_separate_windows():
    budget = make_budget(FakeClock(), countries=1, services=1)
    budget.spend("countries")

    budget.spend("services")

    assert budget.remaining("countries") == 0 and budget.remaining("services") == 0


def test_the_fingerprint_hides_the_key_and_separates_base_urls():
    a = account_fingerprint("https://temp-number-api.com/api/v1", "secret-key")
    b = account_fingerprint("https://temp-number-api.com/test/api/v1", "secret-key")

    assert "secret-key" not in a
    assert a != b
    assert a == account_fingerprint("https://temp-number-api.com/api/v1/", "secret-key")


def test_a_safety_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError):
        RequestBudget(account="a", cache=MemoryCache(), safety=1.5)


def test_a_tiny_limit_still_allows_one_call():
    budget = RequestBudget(account="a", cache=MemoryCache(), limits={"get_report": 1}, safety=0.5, clock=FakeClock())

    assert budget.limit("get_report") == 1


def test_concurrent_spenders_never_exceed_the_limit():
    # given 20 threads racing for 25 units each against a limit of 50
    budget = make_budget(FakeClock(), cache=MemoryCache(), retry_activation=50)
    granted = []
    lock = threading.Lock()

    def worker():
        for _ in range(25):
            try:
                budget.spend("retry_activation")
            except BudgetExhausted:
                continue
            with lock:
                granted.append(1)

    # when
    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # then
    assert len(granted) == 50


def test_it_recovers_when_the_cache_evicts_the_counter_between_add_and_incr():
    class EvictingCache(MemoryCache):
        def add(self, key, value, timeout=None):
            return False  # pretend it existed, then it is gone for incr()

    budget = make_budget(FakeClock(), cache=EvictingCache(), balance=5)

    budget.spend("balance")

    assert budget.spent("balance") == 1


def test_memory_cache_expires_entries():
    now = FakeClock(100)
    cache = MemoryCache(clock=now)
    cache.add("k", 1, timeout=10)

    now.advance(11)

    assert cache.get("k") is None
    assert cache.add("k", 2) is True
    with pytest.raises(ValueError):
        cache.incr("missing")


def test_upstream_429s_are_counted_per_method_for_fifteen_minutes():
    clock = FakeClock(T0 - T0 % 60)
    budget = make_budget(clock)
    budget.note_rejection("get_activation")
    budget.note_rejection("get_activation")
    budget.note_rejection("balance")
    assert budget.rejections("get_activation") == 2 and budget.rejections("balance") == 1
    clock.advance(60 * 14)
    assert budget.rejections("get_activation", windows=15) == 2
    assert budget.rejections("get_activation") == 0  # this minute's window alone
    clock.advance(60)
    assert budget.rejections("get_activation", windows=15) == 0


def test_usage_reports_spent_and_limit_per_method_capped_at_the_limit():
    clock = FakeClock(T0 - T0 % 60)
    budget = make_budget(clock, balance=3)
    budget.spend("balance")
    assert budget.usage()["balance"] == (1, 3)
    budget.exhaust_until("balance", int(clock()) + 60)  # an upstream 429 closes the window
    assert budget.usage()["balance"] == (3, 3)
    assert set(budget.usage()) == set(DEFAULT_LIMITS)
