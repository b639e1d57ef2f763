"""The per-key rate limit counts in one pipelined Redis round trip (INCR + EXPIRE) when the cache is Redis
(issue 14), with the same counts and headers as before; other backends count with add + incr."""

import pytest
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

from core.api import ratelimit

pytestmark = pytest.mark.django_db


def test_counts_rise_by_one_per_request_and_limit_past_the_rate():
    usages = [ratelimit.count(group="test", key="k1", limit=2) for _ in range(3)]
    assert [u["count"] for u in usages] == [1, 2, 3]
    assert [u["should_limit"] for u in usages] == [False, False, True]
    assert ratelimit.count(group="test", key="k2", limit=2)["count"] == 1  # another key has its own window


@pytest.mark.skipif(not isinstance(caches["default"], RedisCache), reason="needs REDIS_URL (Redis cache)")
def test_on_redis_one_pipelined_round_trip_counts_and_sets_the_expiry(monkeypatch):
    client = ratelimit._redis_client("probe")
    assert client is not None
    executed = []
    pipeline_class = type(client.pipeline())
    original = pipeline_class.execute

    def execute(self, *args, **kwargs):
        executed.append([command[0][0] for command in self.command_stack])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, "execute", execute)
    usage = ratelimit.count(group="test", key="k3", limit=5)
    assert usage["count"] == 1
    assert executed == [["INCRBY", "EXPIRE"]]  # redis-py sends INCR as INCRBY 1
