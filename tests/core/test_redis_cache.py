"""``core.cache.RedisCache``: Django's Redis backend, one redis-py client per connection pool (issue 14: building
a client for every cache call cost more CPU than the round trip)."""

from __future__ import annotations

import threading
import uuid

import pytest
import redis

from core.cache import RedisCache

URL = "redis://127.0.0.1:6379/9"


def backend() -> RedisCache:
    return RedisCache(URL, {"KEY_PREFIX": f"test-{uuid.uuid4().hex[:8]}"})


def test_every_call_and_every_thread_shares_one_client_per_pool():
    cache = backend()
    clients = [cache._cache.get_client("a"), cache._cache.get_client("b", write=True)]
    threading_clients: list[object] = []

    def from_a_thread() -> None:
        threading_clients.append(cache._cache.get_client("c"))

    threads = [threading.Thread(target=from_a_thread) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = clients[0]
    assert isinstance(first, redis.Redis)
    assert all(client is first for client in clients + threading_clients)
    assert first.connection_pool is cache._cache._get_connection_pool(True)


def test_another_backend_has_its_own_pool_and_client():
    assert backend()._cache.get_client() is not backend()._cache.get_client()


def test_it_is_still_djangos_cache_against_a_real_redis():
    cache = backend()
    try:
        cache._cache.get_client().ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    cache.set("k", {"v": 1}, 30)
    assert cache.get("k") == {"v": 1}
    assert cache.add("k", 2) is False
    assert cache.add("n", 1) is True
    assert cache.incr("n") == 2
    assert cache.get_many(["k", "n", "missing"]) == {"k": {"v": 1}, "n": 2}
    cache.delete_many(["k", "n"])
    assert cache.get("k") is None
