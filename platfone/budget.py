"""Per-account, per-method request budget that keeps us under Platfone's per-minute rate limits.

The upstream account is shared by every web and worker process of a tenant, so the counters live in a shared
cache (production passes the Redis-backed Django cache). Windows are fixed calendar minutes, like the
upstream's; a unit is spent *before* each network call, so an exhausted budget costs no request at all.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from platfone.errors import BudgetExhausted, FairShareExceeded

# The doc's rate-limit table, keyed by client method name (requests per minute).
DOCUMENTED_LIMITS: Mapping[str, int] = {
    "balance": 300,
    "create_activation": 300,
    "retry_activation": 50,
    "cancel_activation": 50,
    "activation_history": 6,
    "get_activation": 300,
    "countries": 15,
    "services": 15,
    "prices_by_country": 6,
    "prices_by_service": 6,
    "get_price": 60,
}

# Methods the table does not list. 60/min is a guess on the safe side; popular services gets the
# services limit because the upstream may well count it in the same bucket as `activation/services`.
UNDOCUMENTED_LIMITS: Mapping[str, int] = {
    "finalize_activation": 60,
    "popular_services": 15,
    "report_reasons": 60,
    "create_report": 60,
    "get_report": 60,
    "list_reports": 60,
}

DEFAULT_LIMITS: Mapping[str, int] = {**DOCUMENTED_LIMITS, **UNDOCUMENTED_LIMITS}

WINDOW_SECONDS = 60
# A window marked exhausted after an upstream 429 is set to this count, far above any limit.
_EXHAUSTED = 1 << 30
# How many windows upstream 429s are remembered (the console's alert looks back this far).
REJECTION_WINDOWS = 15
# The most windows one upstream 429 may close; guards against a bogus far-future reset header.
_MAX_BLOCKED_WINDOWS = 10


def account_fingerprint(base_url: str, api_key: str) -> str:
    """Stable cache-key prefix for one upstream account; never contains the key itself."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:32]


class MemoryCache:
    """A minimal thread-safe stand-in for a Django cache (`add`, `incr`, `get`, `set`, `delete`).

    For tests and for use outside Django; it is per-process, so production must pass a shared cache.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, tuple[Any, float | None]] = {}

    def _live(self, key: str) -> tuple[Any, float | None] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= self._clock():
            del self._data[key]
            return None
        return entry

    def _expiry(self, timeout: float | None) -> float | None:
        return None if timeout is None else self._clock() + timeout

    def add(self, key: str, value: Any, timeout: float | None = None) -> bool:
        with self._lock:
            if self._live(key) is not None:
                return False
            self._data[key] = (value, self._expiry(timeout))
            return True

    def set(self, key: str, value: Any, timeout: float | None = None) -> None:
        with self._lock:
            self._data[key] = (value, self._expiry(timeout))

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            entry = self._live(key)
            return default if entry is None else entry[0]

    def incr(self, key: str, delta: int = 1) -> int:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                raise ValueError(f"Key {key!r} not found")
            value = entry[0] + delta
            self._data[key] = (value, entry[1])
            return value

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._data.pop(key, None) is not None


class RequestBudget:
    """Fixed one-minute windows of allowed calls per method for one upstream account.

    `safety` scales the documented limits down (0.9 leaves 10 % headroom for clock skew between our
    windows and the upstream's, and for calls made outside this platform with the same key).
    """

    def __init__(
        self,
        *,
        account: str,
        cache: Any,
        limits: Mapping[str, int] | None = None,
        safety: float = 0.9,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < safety <= 1:
            raise ValueError("safety must be in (0, 1]")
        self.account = account
        self.cache = cache
        self.limits = {**DEFAULT_LIMITS, **(limits or {})}
        self.safety = safety
        self.clock = clock

    def limit(self, method: str) -> int:
        """Calls allowed per window for `method`, after the safety fraction."""
        try:
            documented = self.limits[method]
        except KeyError:
            raise ValueError(f"unknown Platfone method {method!r}") from None
        return max(1, math.floor(documented * self.safety))

    def _window(self) -> tuple[int, int]:
        now = self.clock()
        window = int(now // WINDOW_SECONDS)
        retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        return window, retry_after

    def _key(self, method: str, window: int) -> str:
        return f"platfone:budget:{self.account}:{method}:{window}"

    def spent(self, method: str) -> int:
        """Units used in the current window (may exceed the limit after refused attempts)."""
        window, _ = self._window()
        return int(self.cache.get(self._key(method, window)) or 0)

    def remaining(self, method: str) -> int:
        """Calls still allowed in the current window."""
        return max(0, self.limit(method) - self.spent(method))

    def allows(self, method: str, units: int = 1) -> bool:
        """Whether `units` calls would fit right now, without spending anything."""
        return self.remaining(method) >= units

    def share_limit(self, method: str, share: float) -> int:
        """Calls one spender may make per window for `method` with a `share` (0..1] of the budget (at least 1)."""
        return max(1, math.floor(self.limit(method) * share))

    def spend(self, method: str, *, spender: str | None = None, share: float | None = None) -> None:
        """Take one unit or raise `BudgetExhausted` with the seconds until the next window.

        With a `spender` (an opaque id: whoever the call is made for) and its `share` of the budget, that
        spender's own count is checked first: past its share it gets `FairShareExceeded` and the shared budget
        is not touched, so one spender can never spend the others' part.
        """
        limit = self.limit(method)
        window, retry_after = self._window()
        if spender is not None and share is not None:
            own_limit = self.share_limit(method, share)
            if self._incr(f"{self._key(method, window)}:by:{spender}") > own_limit:
                raise FairShareExceeded(
                    f"{spender} used its share of the {method} budget ({own_limit}/min); next window in {retry_after}s",
                    retry_after=retry_after,
                    reset_at=(window + 1) * WINDOW_SECONDS,
                    reason="fair_share",
                )
        used = self._incr(self._key(method, window))
        if used > limit:
            raise BudgetExhausted(
                f"request budget for {method} exhausted ({limit}/min); next window in {retry_after}s",
                retry_after=retry_after,
                reset_at=(window + 1) * WINDOW_SECONDS,
                reason="budget",
            )

    def _incr(self, key: str, *, windows: int = 2) -> int:
        # add() is a no-op when the key exists; incr() is atomic in Redis and in LocMemCache.
        self.cache.add(key, 0, timeout=WINDOW_SECONDS * windows)
        try:
            return int(self.cache.incr(key))
        except ValueError:
            # The key vanished between add() and incr() (eviction); count this call as the window's first.
            self.cache.set(key, 1, timeout=WINDOW_SECONDS * windows)
            return 1

    def note_rejection(self, method: str) -> None:
        """Count an upstream 429 for `method` in the current window (kept for `REJECTION_WINDOWS` windows)."""
        window, _ = self._window()
        self._incr(f"{self._key(method, window)}:429", windows=REJECTION_WINDOWS + 1)

    def rejections(self, method: str, windows: int = 1) -> int:
        """Upstream 429s for `method` in the current window and the `windows - 1` before it."""
        window, _ = self._window()
        keys = [f"{self._key(method, w)}:429" for w in range(window - min(windows, REJECTION_WINDOWS) + 1, window + 1)]
        return sum(int(self.cache.get(key) or 0) for key in keys)

    def usage(self) -> dict[str, tuple[int, int]]:
        """(spent, limit) this minute for every method, for the operators' view. An upstream 429 shows as the
        whole limit spent."""
        return {method: (min(self.spent(method), self.limit(method)), self.limit(method)) for method in self.limits}

    def exhaust_until(self, method: str, reset_at: int) -> None:
        """Close `method` for every process until `reset_at` (after the upstream answered 429)."""
        window, _ = self._window()
        # reset_at is the first second of freedom, so the last closed window is the one holding reset_at - 1.
        last = min(int((reset_at - 1) // WINDOW_SECONDS), window + _MAX_BLOCKED_WINDOWS - 1)
        for w in range(window, last + 1):
            timeout = max(1, (w + 2) * WINDOW_SECONDS - int(self.clock()))
            self.cache.set(self._key(method, w), _EXHAUSTED, timeout=timeout)
