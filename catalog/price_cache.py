"""The shared-cache machinery behind every upstream price answer (one pair's price, or a bulk price list).

Per cached thing (all keys in the shared Django cache, so every web and worker process agrees):

- ``fresh``: the upstream's answer, kept ``PRICE_CACHE_SECONDS`` (90 s). While it lives nobody calls the
  upstream for it, so a quote and an order placed within the window see the same price.
- ``lock``: taken with ``cache.add`` (atomic in Redis and LocMem) by the one request that calls the upstream
  on a miss. Everyone else polls ``fresh`` every 50 ms for up to ``PRICE_LOCK_WAIT_SECONDS``; the leader
  re-checks ``fresh`` after taking the lock, so a burst of identical requests costs one upstream call.
- ``good``: the last successful answer, kept ``PRICE_STALE_MAX_SECONDS`` (600 s): served, marked stale,
  while the upstream is down or our request budget for it is spent.
- ``failure``: set for a few seconds after a failed call, so that waiters and the next requests fall back
  at once instead of queueing up behind another attempt that would most likely fail too.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

from catalog.errors import PriceUnavailable

logger = logging.getLogger("catalog.pricing")

POLL_SECONDS = 0.05
# A lock outlives the slowest possible upstream call (timeouts x attempts) by this margin.
LOCK_MARGIN_SECONDS = 5

Entry = dict[str, Any]
Answer = tuple[Entry, bool]  # the entry, and whether it is a stale fallback


@dataclass(frozen=True)
class CacheKeys:
    fresh: str
    good: str
    lock: str
    failure: str

    @classmethod
    def under(cls, base: str) -> CacheKeys:
        return cls(fresh=f"{base}:fresh", good=f"{base}:good", lock=f"{base}:lock", failure=f"{base}:failure")


def now() -> float:
    return time.time()


def cached_or_fetch(keys: CacheKeys, fetch_as_leader: Callable[[], Answer], *, what: str) -> Answer:
    """The cached answer, or the one ``fetch_as_leader`` gets while holding the lock (one caller at a time
    across all processes; the others wait for its answer, or fall back when it takes too long)."""
    deadline = time.monotonic() + settings.PRICE_LOCK_WAIT_SECONDS
    while True:
        answer = cached(keys)
        if answer is not None:
            return answer
        token = secrets.token_hex(8)
        if cache.add(keys.lock, token, timeout=lock_seconds()):
            try:
                # Another leader may have finished, with an answer or a failure, between our miss and our lock.
                return cached(keys) or fetch_as_leader()
            finally:
                if cache.get(keys.lock) == token:
                    cache.delete(keys.lock)
        if time.monotonic() >= deadline:
            logger.warning("%s: gave up waiting for another request's upstream call", what)
            return fallback(keys, retry_after=settings.PRICE_FAILURE_BACKOFF_SECONDS)
        time.sleep(POLL_SECONDS)


def cached(keys: CacheKeys) -> Answer | None:
    """A fresh answer, or the fallback while a recent failure backs it off; None: nobody has asked yet."""
    entry = cache.get(keys.fresh)
    if entry is not None:
        return entry, False
    failure = cache.get(keys.failure)
    if failure is not None:
        return fallback(keys, retry_after=failure["retry_after"])
    return None


def remember(keys: CacheKeys, entry: Entry, *, good: bool) -> Entry:
    """Cache an upstream answer as fresh (and, when ``good``, as the last good one to fall back on)."""
    entry = {**entry, "fetched_at": now()}
    cache.set(keys.fresh, entry, timeout=settings.PRICE_CACHE_SECONDS)
    if good:
        cache.set(keys.good, entry, timeout=settings.PRICE_STALE_MAX_SECONDS)
    return entry


def remember_failure(keys: CacheKeys, *, retry_after: int) -> Answer:
    cache.set(keys.failure, {"retry_after": retry_after}, timeout=retry_after)
    return fallback(keys, retry_after=retry_after)


def fallback(keys: CacheKeys, *, retry_after: int) -> Answer:
    """The last good answer if it is young enough, else ``PriceUnavailable``."""
    good = cache.get(keys.good)
    if good is not None and now() - good["fetched_at"] <= settings.PRICE_STALE_MAX_SECONDS:
        return good, True
    raise PriceUnavailable(retry_after=retry_after)


def lock_seconds() -> int:
    attempts = 1 + settings.PLATFONE_MAX_RETRIES
    per_attempt = settings.PLATFONE_CONNECT_TIMEOUT + settings.PLATFONE_READ_TIMEOUT + 1
    return int(attempts * per_attempt) + LOCK_MARGIN_SECONDS
