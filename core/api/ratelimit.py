"""Per-minute request counters in the shared cache, one round trip per request.

The same counters as django-ratelimit's ``get_usage`` (its window, cache key and usage dict, so every interface
that counts a key shares one budget), but counted with one pipelined ``INCR`` + ``EXPIRE`` on Redis instead
of an ``add`` followed by an ``incr``. Other cache backends (tests, the file cache of a fresh clone) count the
way django-ratelimit does.
"""

from __future__ import annotations

import time

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache
from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key

PERIOD_SECONDS = 60


def count(*, group: str, key: str, limit: int) -> dict:
    """Count one request of ``key`` in ``group`` against ``limit`` a minute; the usage (``count``, ``limit``,
    ``should_limit``, ``time_left``) as django-ratelimit reports it."""
    window = _get_window(key, PERIOD_SECONDS)
    cache_key = _make_cache_key(group, window, f"{limit}/m", key, ALL)
    used = _increment(cache_key, PERIOD_SECONDS + EXPIRATION_FUDGE)
    return {
        "count": used,
        "limit": limit,
        "should_limit": used > limit,
        "time_left": window - int(time.time()),
    }


def _increment(cache_key: str, ttl: int) -> int:
    redis_client = _redis_client(cache_key)
    if redis_client is not None:
        full_key = cache.make_and_validate_key(cache_key)
        pipe = redis_client.pipeline(transaction=False)
        pipe.incr(full_key)
        pipe.expire(full_key, ttl)
        used, _ = pipe.execute()
        return int(used)
    cache.add(cache_key, 0, ttl)
    try:
        return int(cache.incr(cache_key))
    except ValueError:  # evicted between add and incr
        cache.set(cache_key, 1, ttl)
        return 1


def _redis_client(cache_key: str):
    """The raw redis-py client behind Django's ``RedisCache``, or None for any other backend."""
    backend = caches[DEFAULT_CACHE_ALIAS]  # the backend itself (``django.core.cache.cache`` is a proxy)
    if not isinstance(backend, RedisCache):
        return None
    return backend._cache.get_client(cache_key, write=True)
